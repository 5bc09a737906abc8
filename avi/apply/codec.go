package apply

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/vipgate/vipgate/avi/model"
)

// codec stores mirrored objects in a compact binary form. As JSON, an
// object of 10,000 Services' mirror took about 1.1 KB, most of it field
// names and references to the controller's shared objects (cloud, VRF,
// tenant, profiles, networks: ~100 bytes each, the same in every object).
// The codec writes each field name and each such reference once, in a
// table shared by every object, and an object refers to it by number.
// Strings that are the objects' own (names, UUIDs, addresses) are written
// out, and so is the "<uuid>#<name>" of a reference to another object of
// this cluster (its "https://<host>/api/<type>/" is shared), so the table
// grows with the controller's shared objects and the schema, never with
// churn.
//
// The encoding is lossless for what encoding/json decodes into any: decode
// returns exactly the map encode was given, so diffs, held fields, VIP
// preservation and ownership checks see what they saw with JSON.
type codec struct {
	mu  sync.RWMutex
	ids map[string]uint32
	str []string
	// scratch is encode's buffer; what it returns is an exact-size copy.
	scratch []byte
}

// Value tags.
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt   // zig-zag varint: a float64 that is a whole number
	tagFloat // 8 bytes, IEEE 754
	tagStr   // uvarint length, bytes
	tagRef   // uvarint index into the shared table
	tagList  // uvarint count, values
	tagMap   // uvarint count, (key index, value) pairs
	// tagSplit is a reference to an object of this cluster: the shared
	// index of its "<scheme://host>/api/<type>/" prefix, then the rest
	// ("<uuid>#<name>") as uvarint length and bytes.
	tagSplit
)

// maxSharedKey bounds the "key" values that are shared.
const maxSharedKey = 64

// maxExactInt bounds the whole numbers stored as varints (float64 holds
// them exactly).
const maxExactInt = 1 << 53

// encode returns the compact form of obj.
func (c *codec) encode(obj map[string]any) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf, err := c.value(c.scratch[:0], obj, "")
	if err != nil {
		return nil, err
	}
	c.scratch = buf
	return bytes.Clone(buf), nil
}

// value appends v, found under key, to buf. Called with c.mu held.
func (c *codec) value(buf []byte, v any, key string) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, tagNull), nil
	case bool:
		if x {
			return append(buf, tagTrue), nil
		}
		return append(buf, tagFalse), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < maxExactInt && !(x == 0 && math.Signbit(x)) {
			return binary.AppendVarint(append(buf, tagInt), int64(x)), nil
		}
		return binary.LittleEndian.AppendUint64(append(buf, tagFloat), math.Float64bits(x)), nil
	case string:
		whole, prefix := shared(key, x)
		switch {
		case whole:
			return binary.AppendUvarint(append(buf, tagRef), uint64(c.id(x))), nil
		case prefix > 0:
			buf = binary.AppendUvarint(append(buf, tagSplit), uint64(c.id(x[:prefix])))
			buf = binary.AppendUvarint(buf, uint64(len(x)-prefix))
			return append(buf, x[prefix:]...), nil
		}
		buf = binary.AppendUvarint(append(buf, tagStr), uint64(len(x)))
		return append(buf, x...), nil
	case []any:
		buf = binary.AppendUvarint(append(buf, tagList), uint64(len(x)))
		var err error
		for _, e := range x {
			if buf, err = c.value(buf, e, key); err != nil {
				return nil, err
			}
		}
		return buf, nil
	case map[string]any:
		buf = binary.AppendUvarint(append(buf, tagMap), uint64(len(x)))
		var err error
		for k, e := range x {
			buf = binary.AppendUvarint(buf, uint64(c.id(k)))
			if buf, err = c.value(buf, e, k); err != nil {
				return nil, err
			}
		}
		return buf, nil
	}
	// Not what encoding/json decodes to (an object built in code): stored
	// as its JSON decoding, which is what the mirror held before the codec.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("mirror: cannot store a %T: %w", v, err)
	}
	var y any
	if err := json.Unmarshal(b, &y); err != nil {
		return nil, err
	}
	return c.value(buf, y, key)
}

// id returns s's index in the shared table, adding it. Called with c.mu held.
func (c *codec) id(s string) uint32 {
	if i, ok := c.ids[s]; ok {
		return i
	}
	if c.ids == nil {
		c.ids = map[string]uint32{}
	}
	i := uint32(len(c.str))
	c.str = append(c.str, s)
	c.ids[s] = i
	return i
}

// shared says what of a string value goes in the shared table: all of it
// (whole) for a marker's key or a reference to an object of a type this
// cluster does not create (those are few, and every object names the same
// ones); the first prefix bytes, "<scheme://host>/api/<type>/", of another
// reference by UUID; nothing (0) otherwise.
func shared(key, s string) (whole bool, prefix int) {
	if key == "key" {
		// A marker's or label's key; a certificate's private key (also
		// "key") is long, and never shared.
		return len(s) <= maxSharedKey, 0
	}
	typ, uuid, _, ok := parseRef(s)
	switch {
	case !ok:
		return false, 0
	case !slices.Contains(model.CreateOrder, typ):
		return true, 0
	case uuid == "":
		return false, 0
	}
	i := strings.Index(s, "/api/"+typ+"/")
	if i < 0 {
		return false, 0
	}
	return false, i + len("/api/"+typ+"/")
}

// errCorrupt reports a stored object that does not decode (a bug).
var errCorrupt = errors.New("mirror: corrupt stored object")

// decode returns the object encode was given.
func (c *codec) decode(b []byte) (map[string]any, error) {
	c.mu.RLock()
	str := c.str // appends never change what a decoded object refers to
	c.mu.RUnlock()
	d := decoder{b: b, str: str}
	v := d.value()
	m, ok := v.(map[string]any)
	if d.err != nil || !ok || len(d.b) != 0 {
		return nil, errCorrupt
	}
	return m, nil
}

// decoder reads one stored object.
type decoder struct {
	b   []byte
	str []string
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length, refusing one longer than the bytes left (each
// element takes at least one).
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *decoder) shared() string {
	i := d.uvarint()
	if i >= uint64(len(d.str)) {
		d.err = errCorrupt
		return ""
	}
	return d.str[i]
}

func (d *decoder) value() any {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return nil
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case tagNull:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagInt:
		v, n := binary.Varint(d.b)
		if n <= 0 {
			d.err = errCorrupt
			return nil
		}
		d.b = d.b[n:]
		return float64(v)
	case tagFloat:
		if len(d.b) < 8 {
			d.err = errCorrupt
			return nil
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return v
	case tagStr:
		n := d.count()
		s := string(d.b[:n])
		d.b = d.b[n:]
		return s
	case tagRef:
		return d.shared()
	case tagSplit:
		p := d.shared()
		n := d.count()
		s := p + string(d.b[:n])
		d.b = d.b[n:]
		return s
	case tagList:
		n := d.count()
		out := make([]any, n)
		for i := range out {
			out[i] = d.value()
		}
		return out
	case tagMap:
		n := d.count()
		out := make(map[string]any, n)
		for range n {
			k := d.shared()
			out[k] = d.value()
		}
		return out
	}
	d.err = errCorrupt
	return nil
}
