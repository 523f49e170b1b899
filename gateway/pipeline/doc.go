// Package pipeline is ovsgw's compiler: a pure function from a validated config, the node it
// runs on and the ports observed on its bridge, to the OpenFlow flows and groups that bridge
// must hold. Tables, registers, priorities and cookies are declared once, in pipeline.go.
//
// Same inputs, same output: the compiler reads no clock, no randomness and no switch state, so
// its output can be diffed against what is installed and checked with golden text.
package pipeline
