package agentconf

// The [VCENTER] section of the INI file of `ovsgw vcenter sync` (package vcenter reads and checks
// it): its keys are declared here, beside the agent's, so that every INI key ovsgw reads is
// named in one package.
const (
	VCenterSection = "VCENTER"

	VCenterName          = "name"           // the sync's name, marking the rows it writes
	VCenterURL           = "url"            // vCenter's SDK URL, https only
	VCenterCredentials   = "credentials"    // a file of "username = ..." and "password = ..."
	VCenterCACert        = "ca_cert"        // the CA that signed vCenter's certificate
	VCenterThumbprint    = "thumbprint"     // or vCenter's certificate, pinned
	VCenterInsecure      = "insecure"       // or nothing verified, when asked for
	VCenterDVS           = "dvs"            // the distributed switch of the VMs
	VCenterUplinks       = "uplinks"        // gateway node:interface the DVS's uplinks reach
	VCenterVLANs         = "vlans"          // the VLAN range the sync hands out
	VCenterNetworks      = "networks"       // port group:VN pairs
	VCenterNetworkPrefix = "network_prefix" // port group PREFIX+VN maps to VN
	VCenterMaxInterfaces = "max_interfaces" // a node's budget when it has published none
)

// VCenterKeys are the keys the [VCENTER] section may hold; any other is an error.
var VCenterKeys = []string{VCenterName, VCenterURL, VCenterCredentials, VCenterCACert, VCenterThumbprint,
	VCenterInsecure, VCenterDVS, VCenterUplinks, VCenterVLANs, VCenterNetworks, VCenterNetworkPrefix,
	VCenterMaxInterfaces}
