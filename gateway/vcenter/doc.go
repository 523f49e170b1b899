// Package vcenter keeps VMware VMs in step with the config DB as remote
// instances: for every NIC of a VM on the sync's distributed switch (DVS)
// whose port group maps to a VN, a VMI (the NIC's MAC, an instance IP from
// guest tools or allocated from the VN's subnet) and, on each gateway
// interface the DVS's uplinks reach, a logical interface with a VLAN the
// sync allocates; and that VLAN set on the NIC's DVS port (a per-port VLAN
// override), so that the VM's frames reach the gateways tagged with it.
//
// The pieces:
//
//   - Reconcile (reconcile.go) is pure: vCenter's inventory, the rows the
//     config DB holds and the sync's settings give the rows the sync wants
//     and what it reports. Unit-tested without vCenter or a database.
//   - The database side (db.go) reads the rows into a State and writes the
//     difference between the plan and the sync's own rows (external_ids
//     owner = "vcenter:NAME") in one transaction that holds only if the
//     config generation is still the one planned from
//     (configdb.Client.WriteOwned), so two syncs, or a sync and an
//     operator, never hand out one VLAN twice. Before writing, the config
//     the agents would read is validated as they validate it (validate.go).
//   - The vCenter side (vc.go) logs in (TLS verified against a CA file or a
//     pinned thumbprint), watches the VMs and port groups with the property
//     collector (WaitForUpdatesEx over a container view: changes only, not
//     polling the inventory; each wait bounded), and sets the DVS ports' VLANs with
//     ReconfigureDVPort_Task.
//   - Sync (sync.go) runs them: after each batch of vCenter updates or a
//     config DB change, plan, write, then set the ports; on a lost session
//     it logs in again and re-reads everything.
package vcenter
