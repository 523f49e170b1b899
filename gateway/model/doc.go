// Package model is ovsgw's configuration model: the objects of the YAML contract (virtual
// networks, physical routers with their physical and logical interfaces, virtual machine
// interfaces with instance IPs), strict loading, and validation that names the object and field
// at fault. A Config that passed Validate is treated as immutable by everything downstream.
package model
