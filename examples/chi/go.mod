module github.com/oauth2kit/oauth2kit/examples/chi

go 1.26.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/oauth2kit/oauth2kit v0.0.0
)

require (
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/oauth2kit/oauth2kit => ../..
