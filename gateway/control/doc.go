// Package control is the agent's local control socket: an HTTP API over a unix socket that
// serves status, annotated flows and packet traces to the ovsgw CLI, and the client the CLI
// uses. Only root (the socket's owner) can reach it.
package control
