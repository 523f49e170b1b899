package logging

// Field names of ovsgw's log lines. logrus adds time, level, msg and, with WithError, error.
const (
	// Component is the package that logs (agent, tor, configdb, ...).
	Component = "component"
	// Object is the config object a line is about, named as validation names it
	// (model.ObjectPath): virtualMachineInterfaces[bms1], torSwitches[tor1],
	// physicalRouters[gw1].physicalInterfaces[eth1]; or a config DB row as the row checks name
	// it: Tor_State[tor1].
	Object = "object"
	// Node is a node (an agent's host name, its physical router's name).
	Node = "node"
	// Bridge is the OVS bridge the agent programs.
	Bridge = "bridge"
	// Endpoint is an OVSDB or OpenFlow endpoint (unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT), or a
	// vCenter's URL (its password left out).
	Endpoint = "endpoint"
	// Failures counts failures in a row (a sync, a purge of the datapath flow cache).
	Failures = "failures"
	// Changes counts or lists what an update changed.
	Changes = "changes"
	// Config is where the gateway config comes from: a YAML file or directory.
	Config = "config"
	// File is one file of a config directory.
	File = "file"
	// Address is a listening address (HOST:PORT) the agent serves on (metrics).
	Address = "address"
)
