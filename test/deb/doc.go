// Package deb tests the Debian package `make deb` builds (scripts/deb): it builds one, runs
// scripts/deb/check.sh on it (a real dpkg -i into a scratch root, systemd-analyze verify of the
// unit) and checks what the shell script cannot: the shipped agent config is the README's and
// the agent accepts it, and the unit agrees with it. It needs root, dpkg and systemd-analyze,
// and fails (never skips) without them.
package deb
