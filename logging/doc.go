// Package logging holds what every ovsgw log line shares: the names of its fields, declared once
// so that a log shipper's queries hold across packages (as cilium's logfields does), and the
// formats an operator chooses with [DEFAULT] log_format: text for people, JSON lines for
// shippers, with the same fields either way.
//
// A line about a config object carries it in the Object field, named as validation names it
// (torSwitches[tor1], virtualMachineInterfaces[bms1]: the model package's paths), so that the
// object of an error of `ovsgw validate` and of a log line read the same.
package logging
