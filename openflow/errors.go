package openflow

import (
	"fmt"
	"strings"
)

// OFError is an OpenFlow error message the switch sent in answer to one of our requests.
type OFError struct {
	Type, Code   uint16
	Experimenter uint32 // set when Type is 0xffff (OFPET_EXPERIMENTER; Code is exp_code)
	Data         []byte // the start of the refused message, as the switch echoed it
}

func (e *OFError) Error() string { return "openflow error: " + e.Words() }

// Words names the error type and code, e.g. "bad instruction: bad table id
// (OFPET_BAD_INSTRUCTION/OFPBIC_BAD_TABLE_ID)"; unknown numbers print as numbers.
func (e *OFError) Words() string {
	if e.Type == 0xffff {
		if e.Experimenter == onfExperimenter && e.Code >= 2300 && int(e.Code-2300) < len(onfBundleCodes) {
			c := onfBundleCodes[e.Code-2300]
			return fmt.Sprintf("bundle failed: %s (ONFBFC_%s)", words(c), c)
		}
		if e.Experimenter == nxExperimenter {
			if c, ok := nxErrorCodes[e.Code]; ok {
				return fmt.Sprintf("%s (%s)", c.words, c.name)
			}
		}
		return fmt.Sprintf("experimenter %#x error code %d", e.Experimenter, e.Code)
	}
	if int(e.Type) >= len(ofpErrorTypes) {
		return fmt.Sprintf("error type %d code %d", e.Type, e.Code)
	}
	t := ofpErrorTypes[e.Type]
	if int(e.Code) < len(t.codes) {
		c := t.codes[e.Code]
		return fmt.Sprintf("%s: %s (OFPET_%s/%s_%s)", words(t.name), words(c), t.name, t.prefix, c)
	}
	return fmt.Sprintf("%s: code %d (OFPET_%s)", words(t.name), e.Code, t.name)
}

func words(name string) string { return strings.ToLower(strings.ReplaceAll(name, "_", " ")) }

// onfExperimenter is the ONF experimenter id, used by the OpenFlow 1.3 bundle extension.
const onfExperimenter = 0x4f4e4600

// ofpErrorTypes lists OpenFlow 1.3 error types and codes in numeric order (spec section 7.4.4).
var ofpErrorTypes = []struct {
	name, prefix string
	codes        []string
}{
	{"HELLO_FAILED", "OFPHFC", []string{"INCOMPATIBLE", "EPERM"}},
	{"BAD_REQUEST", "OFPBRC", []string{"BAD_VERSION", "BAD_TYPE", "BAD_MULTIPART", "BAD_EXPERIMENTER",
		"BAD_EXP_TYPE", "EPERM", "BAD_LEN", "BUFFER_EMPTY", "BUFFER_UNKNOWN", "BAD_TABLE_ID", "IS_SLAVE",
		"BAD_PORT", "BAD_PACKET", "MULTIPART_BUFFER_OVERFLOW"}},
	{"BAD_ACTION", "OFPBAC", []string{"BAD_TYPE", "BAD_LEN", "BAD_EXPERIMENTER", "BAD_EXP_TYPE",
		"BAD_OUT_PORT", "BAD_ARGUMENT", "EPERM", "TOO_MANY", "BAD_QUEUE", "BAD_OUT_GROUP",
		"MATCH_INCONSISTENT", "UNSUPPORTED_ORDER", "BAD_TAG", "BAD_SET_TYPE", "BAD_SET_LEN",
		"BAD_SET_ARGUMENT"}},
	{"BAD_INSTRUCTION", "OFPBIC", []string{"UNKNOWN_INST", "UNSUP_INST", "BAD_TABLE_ID",
		"UNSUP_METADATA", "UNSUP_METADATA_MASK", "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "BAD_LEN", "EPERM"}},
	{"BAD_MATCH", "OFPBMC", []string{"BAD_TYPE", "BAD_LEN", "BAD_TAG", "BAD_DL_ADDR_MASK",
		"BAD_NW_ADDR_MASK", "BAD_WILDCARDS", "BAD_FIELD", "BAD_VALUE", "BAD_MASK", "BAD_PREREQ",
		"DUP_FIELD", "EPERM"}},
	{"FLOW_MOD_FAILED", "OFPFMFC", []string{"UNKNOWN", "TABLE_FULL", "BAD_TABLE_ID", "OVERLAP",
		"EPERM", "BAD_TIMEOUT", "BAD_COMMAND", "BAD_FLAGS"}},
	{"GROUP_MOD_FAILED", "OFPGMFC", []string{"GROUP_EXISTS", "INVALID_GROUP", "WEIGHT_UNSUPPORTED",
		"OUT_OF_GROUPS", "OUT_OF_BUCKETS", "CHAINING_UNSUPPORTED", "WATCH_UNSUPPORTED", "LOOP",
		"UNKNOWN_GROUP", "CHAINED_GROUP", "BAD_TYPE", "BAD_COMMAND", "BAD_BUCKET", "BAD_WATCH", "EPERM"}},
	{"PORT_MOD_FAILED", "OFPPMFC", []string{"BAD_PORT", "BAD_HW_ADDR", "BAD_CONFIG", "BAD_ADVERTISE", "EPERM"}},
	{"TABLE_MOD_FAILED", "OFPTMFC", []string{"BAD_TABLE", "BAD_CONFIG", "EPERM"}},
	{"QUEUE_OP_FAILED", "OFPQOFC", []string{"BAD_PORT", "BAD_QUEUE", "EPERM"}},
	{"SWITCH_CONFIG_FAILED", "OFPSCFC", []string{"BAD_FLAGS", "BAD_LEN", "EPERM"}},
	{"ROLE_REQUEST_FAILED", "OFPRRFC", []string{"STALE", "UNSUP", "BAD_ROLE"}},
	{"METER_MOD_FAILED", "OFPMMFC", []string{"UNKNOWN", "METER_EXISTS", "INVALID_METER",
		"UNKNOWN_METER", "BAD_COMMAND", "BAD_FLAGS", "BAD_RATE", "BAD_BURST", "BAD_BAND",
		"BAD_BAND_VALUE", "OUT_OF_METERS", "OUT_OF_BANDS"}},
	{"TABLE_FEATURES_FAILED", "OFPTFFC", []string{"BAD_TABLE", "BAD_METADATA", "BAD_TYPE", "BAD_LEN",
		"BAD_ARGUMENT", "EPERM"}},
}

// nxErrorCodes names the Nicira experimenter errors (exp_type in OpenFlow 1.2+) that ovsgw's
// own messages can cause; `ovs-ofctl print-error NAME` gives the numbers.
var nxErrorCodes = map[uint16]struct{ name, words string }{
	15: {"NXBAC_BAD_CONJUNCTION", "bad conjunction action: not alone in the flow, or bad clause numbers"},
}

// onfBundleCodes are the bundle extension's exp_codes from 2300 on (ONF extension 230).
var onfBundleCodes = []string{"UNKNOWN", "EPERM", "BAD_ID", "BUNDLE_EXIST", "BUNDLE_CLOSED",
	"OUT_OF_BUNDLES", "BAD_TYPE", "BAD_FLAGS", "MSG_BAD_LEN", "MSG_BAD_XID", "MSG_UNSUP",
	"MSG_CONFLICT", "MSG_TOO_MANY", "MSG_FAILED", "TIMEOUT", "BUNDLE_IN_PROGRESS"}
