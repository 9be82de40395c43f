package maps

import (
	"reflect"
	"sync"
	"unsafe"
)

// rows is a list of fixed-size byte strings (keys or values) laid out
// back to back, as the kernel's batch operations read and write them. It
// is backed by a Go slice of [size]byte arrays, which cilium/ebpf passes
// to the kernel without copying.
type rows struct {
	size  int
	slice reflect.Value // []([size]byte)
	buf   []byte        // the same memory, flat
}

func newRows(size, n int) rows {
	typ := reflect.SliceOf(reflect.ArrayOf(size, reflect.TypeFor[byte]()))
	r := rows{size: size, slice: reflect.MakeSlice(typ, n, n)}
	if n > 0 && size > 0 {
		r.buf = unsafe.Slice((*byte)(r.slice.UnsafePointer()), n*size)
	}
	return r
}

// spare holds the memory of released rows (*[]byte), for rows of any size.
var spare sync.Pool

// reusedRows is as newRows, in the memory of rows released before, not
// zeroed: each row must be written whole before it is read. release gives
// the memory back.
func reusedRows(size, n int) rows {
	if n == 0 || size == 0 {
		return newRows(size, n)
	}
	var buf []byte
	if b, ok := spare.Get().(*[]byte); ok && cap(*b) >= n*size {
		buf = (*b)[:n*size]
	} else {
		buf = make([]byte, n*size)
	}
	elem := reflect.ArrayOf(size, reflect.TypeFor[byte]())
	return rows{size: size, slice: reflect.SliceAt(elem, unsafe.Pointer(&buf[0]), n), buf: buf}
}

// release gives the memory of rows from reusedRows (or of rows cut from
// them) back for later rows; r is not used after.
func (r rows) release() {
	if cap(r.buf) > 0 {
		b := r.buf[:cap(r.buf)]
		spare.Put(&b)
	}
}

func (r rows) len() int { return r.slice.Len() }

func (r rows) at(i int) []byte { return r.buf[i*r.size : (i+1)*r.size] }

// from is the rows from i on, as the slice the batch calls take.
func (r rows) from(i int) any { return r.span(i, r.len()) }

// span is the rows lo to hi-1, as the slice the batch calls take.
func (r rows) span(lo, hi int) any { return r.slice.Slice(lo, hi).Interface() }

// pick copies the rows at the given indices into new rows.
func (r rows) pick(idx []int) rows {
	out := newRows(r.size, len(idx))
	for j, i := range idx {
		copy(out.at(j), r.at(i))
	}
	return out
}

// tail is the rows from i on.
func (r rows) tail(i int) rows {
	return rows{size: r.size, slice: r.slice.Slice(i, r.len()), buf: r.buf[i*r.size:]}
}

// truncate is the first n rows.
func (r rows) truncate(n int) rows {
	return rows{size: r.size, slice: r.slice.Slice(0, n), buf: r.buf[:n*r.size]}
}
