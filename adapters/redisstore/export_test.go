package redisstore

// WithSlotScripts makes a Store on a single node run the scripts it runs on
// Cluster, one slot each, so that tests watching the slots of every command
// check the Cluster layout without a Cluster.
func WithSlotScripts() Option {
	return func(s *Store) { s.oneNode.Store(false) }
}
