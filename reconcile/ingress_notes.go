package reconcile

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// note is one problem an Ingress has that users should hear about once, as
// a Warning Event: a host it lost to another Ingress, a Secret that cannot be
// served, a backend that does not exist, something it asked for that vipgate
// does not support.
type note struct {
	// Ingress is "<ns>/<name>".
	Ingress, Reason, Message string
}

// noteBook remembers, per shard, the problems it last reported, so that a
// shard recomputed many times reports each problem once, and a problem that
// goes away and comes back is reported again. It is bounded by the number of
// shards and forgets a shard when the shard goes; losing it (a restart) only
// means each current problem is reported once more.
type noteBook struct {
	mu   sync.Mutex
	last map[string][]note
}

func newNoteBook() *noteBook { return &noteBook{last: map[string][]note{}} }

// report emits the notes of shard that were not in its previous report and
// replaces that report with notes.
func (b *noteBook) report(ctx context.Context, shard string, notes []note, emit func(context.Context, note)) {
	slices.SortFunc(notes, func(a, b note) int {
		if a.Ingress != b.Ingress {
			return strings.Compare(a.Ingress, b.Ingress)
		}
		if a.Reason != b.Reason {
			return strings.Compare(a.Reason, b.Reason)
		}
		return strings.Compare(a.Message, b.Message)
	})
	notes = slices.Compact(notes)
	b.mu.Lock()
	prev := b.last[shard]
	if len(notes) == 0 {
		delete(b.last, shard)
	} else {
		b.last[shard] = notes
	}
	b.mu.Unlock()
	for _, n := range notes {
		if !slices.Contains(prev, n) {
			emit(ctx, n)
		}
	}
}

// forget drops a shard that no longer exists.
func (b *noteBook) forget(shard string) {
	b.mu.Lock()
	delete(b.last, shard)
	b.mu.Unlock()
}
