// Command chi serves an oauth2kit issuer under a path prefix of a chi
// router, next to chi routes that the Verifier protects. The issuer URL is
// the server's address followed by /auth, so the token, revocation,
// introspection and JWKS endpoints are under /auth/, and the metadata is at
// /.well-known/oauth-authorization-server/auth, outside the prefix, where
// RFC 8414 §3.1 puts it.
//
//	go run ./examples/chi [-addr 127.0.0.1:8081]
//
// It knows one confidential client, demo-client/demo-secret, and one user,
// alice/wonderland, and keeps everything in memory.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	h, err := newRouter(base)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("issuer %s%s; metadata at %s%s", base, issuerPath, base, metadataPath)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
