// Package agentconf reads the agent's INI configuration (contrail-vrouter-agent.conf style):
// gateway mode, host name, interface budget and logging in [DEFAULT], the Open vSwitch endpoints in
// [OVS], and where the gateway config comes from in [CONFIG], with the TLS files of a config
// DB reached over ssl:. Every error names section and key.
package agentconf
