package ovstls

import (
	"fmt"
	"strings"
)

// Setting is one of the TLS settings of a connection, for errors in the caller's own terms (an
// INI key, a flag).
type Setting int

// The settings CheckSetup may find at fault.
const (
	Endpoints Setting = iota
	PrivateKey
	Certificate
	CACert
	PeerCommonNames
)

// Problem is a TLS setting at fault, and why.
type Problem struct {
	Setting Setting
	Reason  string
}

// CheckSetup checks TLS settings against the endpoints they serve (every member of a cluster):
// an ssl: endpoint needs the private key, the certificate and the CA certificate; settings
// without an ssl: endpoint are a mistake (nothing would use them, and whoever wrote them
// believes the connection protected); and ssl: does not mix with tcp:, as a member reached over
// tcp: would carry the same data unprotected whenever it leads. It reads no file.
func CheckSetup(endpoints []string, f Files) []Problem {
	var ssl, tcp string
	for _, ep := range endpoints {
		switch {
		case strings.HasPrefix(ep, "ssl:") && ssl == "":
			ssl = ep
		case strings.HasPrefix(ep, "tcp:") && tcp == "":
			tcp = ep
		}
	}
	files := []struct {
		s    Setting
		path string
	}{{PrivateKey, f.PrivateKey}, {Certificate, f.Certificate}, {CACert, f.CACert}}
	var out []Problem
	if ssl == "" {
		for _, x := range files {
			if x.path != "" {
				out = append(out, Problem{x.s, "given, but no endpoint is ssl: (nothing would use it)"})
			}
		}
		if len(f.PeerCommonNames) > 0 {
			out = append(out, Problem{PeerCommonNames, "given, but no endpoint is ssl: (nothing would check it)"})
		}
		return out
	}
	for _, x := range files {
		if x.path == "" {
			out = append(out, Problem{x.s, fmt.Sprintf("missing: %s is an ssl: endpoint, which needs it", ssl)})
		}
	}
	if tcp != "" {
		out = append(out, Problem{Endpoints, fmt.Sprintf("%s is tcp: beside ssl: endpoints: reach every member over ssl:, or the database travels unprotected whenever that one leads", tcp)})
	}
	return out
}
