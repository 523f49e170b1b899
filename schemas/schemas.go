package schemas

import _ "embed"

// Gateway is gateway.ovsschema, byte for byte.
//
//go:embed gateway.ovsschema
var Gateway []byte
