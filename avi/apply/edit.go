package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-logr/logr"

	"github.com/vipgate/vipgate/avi/session"
)

// MaxEditAttempts bounds the read-merge-write rounds of Edit when others
// write the same object concurrently; the caller's retry takes over after.
const MaxEditAttempts = 5

// EditFunc changes a controller object (as read, every field kept) in place
// and reports whether it changed anything.
type EditFunc func(obj map[string]any) (changed bool, err error)

// Edit changes one shared object that other writers edit too (a VrfContext's
// static routes, an SE group's labels): it reads the object of typ named name
// (q narrows the query, e.g. cloud_ref.name) in tenant, lets edit change it,
// and writes it back when edit reports a change. The write carries the
// _last_modified that was read, so the controller refuses it (412) or
// reports a conflict (409) when someone wrote the object in between; Edit
// then reads again, up to MaxEditAttempts times. written says whether it
// wrote.
func (a *Applier) Edit(ctx context.Context, typ, name, tenant string, q url.Values, edit EditFunc) (written bool, err error) {
	log := logr.FromContextOrDiscard(ctx)
	for attempt := 1; ; attempt++ {
		obj, err := a.readOne(ctx, typ, name, tenant, q)
		if err != nil {
			return false, err
		}
		changed, err := edit(obj)
		if err != nil || !changed {
			return false, err
		}
		uuid, _ := obj["uuid"].(string)
		var out map[string]any
		err = a.c.Update(ctx, typ, uuid, obj, tenant, &out)
		if err == nil {
			if a.OnWrite != nil {
				a.OnWrite()
			}
			return true, nil
		}
		if !ConcurrentUpdate(err) || attempt >= MaxEditAttempts {
			return false, session.WithObject(err, typ+"/"+name)
		}
		log.Info("changed under us; reading it again", "type", typ, "name", name, "attempt", attempt, "error", session.Message(err))
	}
}

// ErrNotFound reports that the object Edit was to change does not exist.
var ErrNotFound = errors.New("not found")

// readOne reads the one object of typ named name as the controller returns
// it, so that a PUT sends every field back unchanged.
func (a *Applier) readOne(ctx context.Context, typ, name, tenant string, q url.Values) (map[string]any, error) {
	query := url.Values{"name": {name}}
	for k, v := range q {
		query[k] = v
	}
	var found map[string]any
	err := a.c.List(ctx, typ, query, tenant, 0, func(raw json.RawMessage) error {
		if found != nil {
			return nil
		}
		return json.Unmarshal(raw, &found)
	})
	if err != nil {
		return nil, session.WithObject(err, typ+"/"+name)
	}
	if found == nil {
		return nil, fmt.Errorf("%s %q: %w", typ, name, ErrNotFound)
	}
	return found, nil
}

// ConcurrentUpdate reports a write lost to another writer: 412 (stale
// _last_modified) or 409.
func ConcurrentUpdate(err error) bool {
	var e *session.Error
	return session.IsConflict(err) || (errors.As(err, &e) && e.Status == http.StatusPreconditionFailed)
}
