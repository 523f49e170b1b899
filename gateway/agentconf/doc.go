// Package agentconf reads the agent's INI configuration (contrail-vrouter-agent.conf style):
// gateway mode, host name and interface budget in [DEFAULT], the Open vSwitch endpoints in
// [OVS], and where the gateway config comes from in [CONFIG]. Every error names section and key.
package agentconf
