// Package model is ovsgw's configuration model: the objects of the YAML contract (virtual
// networks, physical routers with their physical and logical interfaces, virtual machine
// interfaces with instance IPs), strict loading, and validation that names the object and field
// at fault. A Config that passed Validate is treated as immutable by everything downstream.
//
// The agent checks the whole config on every change, so validation is built to be cheap at
// thousands of remote instances: Config.ValidateIndex validates and returns the Index it built
// on the way (NewIndex would build it again), object paths are formatted only for errors, and
// the uniqueness checks use tables sized once (nameset.go). legacy_test.go keeps the code as it
// was before, as the oracle of the tests and the baseline of BenchmarkValidate.
package model
