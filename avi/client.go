// Package avi is vipgate's controller side. This file holds the one
// interface every part that talks to the Avi Controller uses (the applier,
// the inventory loader, static routes, orphan collection and teardown), so
// that each can be tested with a fake and none reaches for the concrete
// alb-sdk session. avi/session implements it.
package avi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// PageSize is the collection page size vipgate reads with; 200 is the
// controller's maximum. A variable so tests can exercise paging.
var PageSize = 200

// Client is a connection to the controller. Errors are classified with
// avi/session's IsRetryable, IsBadRequest, IsConflict and Message.
type Client interface {
	// List reads every object of a collection in pages of pageSize (0: the
	// controller's default), calling fn for each raw object. q holds filters
	// such as name, created_by, fields or include_name. tenant "" is the
	// client's tenant; "*" asks for all tenants (admin only).
	List(ctx context.Context, objType string, q url.Values, tenant string, pageSize int, fn func(json.RawMessage) error) error
	// Get reads api/<type>/<uuid> into out.
	Get(ctx context.Context, objType, uuid string, q url.Values, tenant string, out any) error
	// Create POSTs obj and decodes the controller's answer into out.
	Create(ctx context.Context, objType string, obj any, tenant string, out any) error
	// Update PUTs obj to api/<type>/<uuid> and decodes the answer into out.
	Update(ctx context.Context, objType, uuid string, obj any, tenant string, out any) error
	// Delete removes api/<type>/<uuid>; an object already gone is not an error.
	Delete(ctx context.Context, objType, uuid, tenant string) error
	// Tenant is the tenant requests go to when they name none.
	Tenant() string
}

// ListAll is List decoding each object into T.
func ListAll[T any](ctx context.Context, c Client, objType string, q url.Values, tenant string, pageSize int) ([]*T, error) {
	var out []*T
	err := c.List(ctx, objType, q, tenant, pageSize, func(raw json.RawMessage) error {
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("decoding %s: %w", objType, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}
