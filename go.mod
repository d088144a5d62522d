module github.com/oauth2kit/oauth2kit

go 1.26.0

require (
	github.com/go-jose/go-jose/v4 v4.1.9
	golang.org/x/crypto v0.58.0
	golang.org/x/oauth2 v0.37.0
)

require golang.org/x/sys v0.49.0 // indirect
