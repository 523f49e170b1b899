package configstore

import (
	"context"
	"fmt"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// Store is the config of the config DB as a model.Config: it reads it from
// a configdb.Client, converting only the rows that changed since its last
// read, and writes one. Its methods are safe for concurrent use.
type Store struct {
	db   *configdb.Client
	view configdb.Derived[*configView]
	// builds counts the views built (tests: a read with no config row
	// changed must reuse the last one).
	builds int
}

// New returns a Store of db's config. The Store keeps its own conversions;
// a process wants one per client.
func New(db *configdb.Client) *Store { return &Store{db: db} }

// Client is the client the Store reads and writes through.
func (s *Store) Client() *configdb.Client { return s.db }

// Config returns the config objects of the database as a model.Config in
// canonical order (Normalize), not validated: the caller validates it, as
// it would a file. The result is the caller's to change. It is consistent:
// never half of a transaction. It costs a copy of the config while no config
// row changed since the last call, and otherwise a conversion of the rows
// that changed and a reassembly (see configView).
func (s *Store) Config() (*model.Config, error) {
	cfg, _, err := s.ConfigWithGeneration()
	return cfg, err
}

// ConfigWithGeneration is Config and the config generation (see
// configdb.Client.Generation) of the same read.
func (s *Store) ConfigWithGeneration() (*model.Config, int, error) {
	v, err := configdb.DeriveFromConfig(s.db, &s.view, func(prev *configView, r configdb.ConfigRead) *configView {
		s.builds++ // serialised by DeriveFromConfig
		return buildConfigView(prev, r)
	})
	if err != nil {
		return nil, 0, err
	}
	if v.err != nil {
		return nil, v.generation, fmt.Errorf("config rows hold values the schema does not allow; fix or delete them (ovsgw db show lists them): %w", v.err)
	}
	return cloneConfig(v.cfg), v.generation, nil
}

// Apply makes the config in the database equal cfg. It validates cfg first
// and returns model.Validate's error unchanged when cfg is refused; nothing
// is written then. Otherwise it diffs cfg against the database object by
// object (by name; physical and logical interfaces by router and name;
// rules as part of their group or policy; ToR bindings as part of their
// switch) and writes every addition, removal and change in one transaction
// that holds only if the config generation is still the one diffed against
// (else configdb.ErrConflict). With dryRun, or when nothing differs, it
// writes nothing. It returns once the client's cache shows the result.
func (s *Store) Apply(ctx context.Context, cfg *model.Config, dryRun bool) (*configdb.Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return s.ApplyValidated(ctx, cfg, dryRun)
}

// ApplyValidated is Apply for a config its caller has just validated
// (cfg.Validate returned nil) and not changed since: it does not validate
// again, which costs tens of milliseconds at thousands of instances.
// ovsgw db apply validates before it connects.
func (s *Store) ApplyValidated(ctx context.Context, cfg *model.Config, dryRun bool) (*configdb.Summary, error) {
	return s.db.ApplyRows(ctx, toRows(cfg), dryRun)
}
