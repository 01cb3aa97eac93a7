/* The broker tap's per-message work in C (hmi.bus.broker.tapc explains why and when).
 *
 * Functions that parse nothing of what they read:
 *
 * - recv_three(handle, limit): receive up to `limit` waiting messages from a ZeroMQ
 *   socket (the tap's SUB) in one call, each as (topic, header, payload) bytes; a message
 *   of another frame count is read to its end and given as () (the caller counts it);
 *   recv_router the same for the front's ROUTER (routing id first, the CURVE key last).
 *   libzmq is not linked: its functions are looked up in the copy pyzmq loaded
 *   (bind(path)), so the socket handle pyzmq gives (Socket.underlying) is used by the
 *   same library that made it.
 * - covers(free, structure, payload): a batch has a known layout when it has the layout's
 *   size and (payload | free) == structure byte for byte (hmi.bus.broker.lvc.Layout; the
 *   layout's parts first, so that functools.partial binds them); covered_run: the same
 *   test down a list of waiting batches, up to the first it fails or a FULL one;
 *   collapse: of two neighbouring waiting batches with the layout, the older is dropped.
 *
 * Everything read is copied into new bytes objects of the sizes libzmq reports; nothing
 * is interpreted here, so nothing here can be misled by what a publisher sends.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

/* zmq.h: "unsigned char _[64]" aligned as a pointer, since libzmq 4.1 (ABI 5). */
typedef struct {
    unsigned char _[64];
} __attribute__((aligned(sizeof(void *)))) zmq_msg_t;

#define ZMQ_DONTWAIT 1

static int (*msg_init)(zmq_msg_t *);
static int (*msg_recv)(zmq_msg_t *, void *, int);
static void *(*msg_data)(zmq_msg_t *);
static size_t (*msg_size)(const zmq_msg_t *);
static int (*msg_more)(const zmq_msg_t *);
static int (*msg_close)(zmq_msg_t *);
static int (*msg_move)(zmq_msg_t *, zmq_msg_t *);
static int (*zmq_errno_fn)(void);
static const char *(*msg_gets)(const zmq_msg_t *, const char *);
static void (*zmq_version_fn)(int *, int *, int *);

static PyObject *
tap_bind(PyObject *self, PyObject *args)
{
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path))
        return NULL;
    /* RTLD_NOLOAD: only the copy already loaded (pyzmq's); never a second one. */
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (lib == NULL) {
        PyErr_Format(PyExc_OSError, "libzmq is not loaded from %s", path);
        return NULL;
    }
    msg_init = dlsym(lib, "zmq_msg_init");
    msg_recv = dlsym(lib, "zmq_msg_recv");
    msg_data = dlsym(lib, "zmq_msg_data");
    msg_size = dlsym(lib, "zmq_msg_size");
    msg_more = dlsym(lib, "zmq_msg_more");
    msg_close = dlsym(lib, "zmq_msg_close");
    msg_move = dlsym(lib, "zmq_msg_move");
    zmq_errno_fn = dlsym(lib, "zmq_errno");
    msg_gets = dlsym(lib, "zmq_msg_gets");
    zmq_version_fn = dlsym(lib, "zmq_version");
    if (!msg_init || !msg_recv || !msg_data || !msg_size || !msg_more || !msg_close || !msg_move ||
        !zmq_errno_fn || !zmq_version_fn || !msg_gets) {
        msg_recv = NULL;
        PyErr_Format(PyExc_OSError, "%s lacks a libzmq function", path);
        return NULL;
    }
    int major, minor, patch;
    zmq_version_fn(&major, &minor, &patch);
    return Py_BuildValue("(iii)", major, minor, patch);
}

/* One frame into a new bytes object; NULL with errno set (EAGAIN: none waiting) or a
 * Python error set (errno 0). */
static PyObject *
recv_frame(void *sock, int *more, PyObject **key)
{
    zmq_msg_t msg;
    msg_init(&msg);
    if (msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno_fn();
        msg_close(&msg);
        errno = err ? err : EIO;
        return NULL;
    }
    PyObject *frame = PyBytes_FromStringAndSize(msg_data(&msg), (Py_ssize_t)msg_size(&msg));
    *more = msg_more(&msg);
    if (frame != NULL && key != NULL && !*more) {
        /* the CURVE key ZAP admitted for the connection (its User-Id), "?" if none */
        const char *user = msg_gets(&msg, "User-Id");
        Py_XDECREF(*key);
        *key = PyUnicode_DecodeUTF8(user ? user : "?", user ? (Py_ssize_t)strlen(user) : 1,
                                    "replace");
        if (*key == NULL) {
            Py_DECREF(frame);
            frame = NULL;
        }
    }
    msg_close(&msg);
    if (frame == NULL)
        errno = 0;
    return frame;
}


/* Up to limit waiting messages of nframes frames each, as tuples of bytes, with the
 * connection's key appended when key is KEY_EMPTY ("") or KEY_USER (its User-Id: the CURVE
 * key ZAP admitted, "?" if none); a message of another frame count is read to its end and
 * given as (). Returns (messages, more): more is false once a read found none waiting. */
enum { KEY_NONE, KEY_EMPTY, KEY_USER };
#define MAX_FRAMES 4

static PyObject *
recv_messages(void *sock, Py_ssize_t limit, int nframes, int key_mode)
{
    if (msg_recv == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bind() libzmq first");
        return NULL;
    }
    PyObject *messages = PyList_New(0);
    if (messages == NULL)
        return NULL;
    int more_waiting = 1;
    for (Py_ssize_t n = 0; n < limit; n++) {
        PyObject *parts[MAX_FRAMES] = {NULL};
        PyObject *key = NULL;
        int more = 0, count = 0, err = 0;
        /* a message's frames arrive together: once its first is read, the rest wait */
        do {
            PyObject **want = key_mode == KEY_USER && count == nframes - 1 ? &key : NULL;
            PyObject *frame = recv_frame(sock, &more, want);
            if (frame == NULL) {
                err = errno ? errno : -1;
                break;
            }
            if (count < nframes)
                parts[count] = frame;
            else
                Py_DECREF(frame);
            count++;
        } while (more);
        if (err == EAGAIN && count == 0) {
            more_waiting = 0;
            break;
        }
        if (err == EAGAIN) /* a message cut short: given as () like any other count */
            err = 0, count = -1;
        PyObject *message = NULL;
        if (!err && count == nframes) {
            if (key_mode != KEY_NONE && key == NULL)
                key = PyUnicode_FromString(key_mode == KEY_USER ? "?" : "");
            int size = nframes + (key_mode != KEY_NONE);
            message = key_mode == KEY_NONE || key != NULL ? PyTuple_New(size) : NULL;
            if (message != NULL) {
                for (int i = 0; i < nframes; i++)
                    PyTuple_SET_ITEM(message, i, parts[i]);
                if (key_mode != KEY_NONE)
                    PyTuple_SET_ITEM(message, nframes, key);
                key = NULL;
                for (int i = 0; i < nframes; i++)
                    parts[i] = NULL;
            }
        } else if (!err) {
            message = PyTuple_New(0);
        }
        for (int i = 0; i < nframes; i++)
            Py_XDECREF(parts[i]);
        Py_XDECREF(key);
        if (err) {
            if (err == -1 || PyList_GET_SIZE(messages) == 0) {
                if (err != -1)
                    PyErr_SetFromErrno(PyExc_OSError);
                Py_DECREF(messages);
                return NULL;
            }
            break; /* the error shows at the next call; what was read is handed over */
        }
        if (message == NULL || PyList_Append(messages, message) < 0) {
            Py_XDECREF(message);
            Py_DECREF(messages);
            return NULL;
        }
        Py_DECREF(message);
    }
    return Py_BuildValue("(NO)", messages, more_waiting ? Py_True : Py_False);
}

/* recv_three(handle, limit) -> (messages, more): (topic, header, payload) each */
static PyObject *
tap_recv_three(PyObject *self, PyObject *args)
{
    unsigned long long handle;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "Kn", &handle, &limit))
        return NULL;
    return recv_messages((void *)(uintptr_t)handle, limit, 3, KEY_NONE);
}

/* recv_router(handle, limit, keyed) -> (messages, more): for a ROUTER whose peers send
 * three frames, (routing id, topic, header, payload, key) each, key the connection's
 * User-Id when keyed, else "". */
static PyObject *
tap_recv_router(PyObject *self, PyObject *args)
{
    unsigned long long handle;
    Py_ssize_t limit;
    int keyed;
    if (!PyArg_ParseTuple(args, "Knp", &handle, &limit, &keyed))
        return NULL;
    return recv_messages((void *)(uintptr_t)handle, limit, 4, keyed ? KEY_USER : KEY_EMPTY);
}

static int masked_equal(const unsigned char *p, const unsigned char *f, const unsigned char *s,
                        Py_ssize_t len);

/* ---- runs of publications: the tap's books, taken apart in C ----------------------- */

/* The usual header, [1, kind, sender, seq, time, flags] packed as hmi.bus.wire.frames packs
 * it (fixarray of 6; a positive fixint kind; a fixstr or str8 sender; a non-negative int
 * seq; a float or int time; a non-negative int flags) and nothing after it: its kind,
 * sender, seq and flags. 0 for anything else, which Python then reads the long way
 * (hmi.bus.wire.frames.check_header says what is wrong with it). */
typedef struct {
    int kind;
    const unsigned char *sender;
    size_t sender_len;
    uint64_t seq;
    uint64_t flags;
} header_t;

static int
read_uint(const unsigned char *h, size_t n, size_t *p, uint64_t *out)
{
    if (*p >= n)
        return 0;
    unsigned char t = h[(*p)++];
    size_t width = 0;
    if (t < 0x80) {
        *out = t;
        return 1;
    }
    if (t == 0xcc)
        width = 1;
    else if (t == 0xcd)
        width = 2;
    else if (t == 0xce)
        width = 4;
    else if (t == 0xcf)
        width = 8;
    else
        return 0;
    if (*p + width > n)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++)
        v = (v << 8) | h[*p + i];
    *p += width;
    *out = v;
    return 1;
}

static int
parse_header(const unsigned char *h, size_t n, header_t *out)
{
    size_t p = 0;
    if (n < 6 || h[p++] != 0x96 || h[p++] != 0x01) /* six fields; version 1 */
        return 0;
    if (h[p] >= 0x80)
        return 0;
    out->kind = h[p++];
    size_t len;
    if ((h[p] & 0xe0) == 0xa0) { /* fixstr */
        len = h[p] & 0x1f;
        p += 1;
    } else if (h[p] == 0xd9 && p + 1 < n) { /* str8 */
        len = h[p + 1];
        p += 2;
    } else
        return 0;
    if (p + len > n)
        return 0;
    out->sender = h + p;
    out->sender_len = len;
    p += len;
    if (!read_uint(h, n, &p, &out->seq))
        return 0;
    if (p >= n)
        return 0;
    unsigned char t = h[p++]; /* the time: only skipped (a float, or an int) */
    size_t skip;
    if (t == 0xcb)
        skip = 8;
    else if (t == 0xca)
        skip = 4;
    else if (t < 0x80 || t >= 0xe0)
        skip = 0;
    else if (t == 0xcc || t == 0xd0)
        skip = 1;
    else if (t == 0xcd || t == 0xd1)
        skip = 2;
    else if (t == 0xce || t == 0xd2)
        skip = 4;
    else if (t == 0xcf || t == 0xd3)
        skip = 8;
    else
        return 0;
    p += skip;
    if (p > n || !read_uint(h, n, &p, &out->flags))
        return 0;
    return p == n;
}

typedef struct {
    PyObject *items;   /* what is handed over */
    PyObject *topic;   /* the run's topic (bytes), NULL: no run open */
    PyObject *sender;  /* its sender (str) */
    unsigned char sender_raw[256];
    size_t sender_len;
    uint64_t first, last;
    Py_ssize_t gaps, count, size;
    PyObject *batches; /* [(payload, full)] */
    /* the topic's usual layout (hmi.bus.broker.lvc.Layout: free, structure), or NULL; the
     * newest batch of the run with it, held unread while the next may make it moot */
    PyObject *layout;
    Py_buffer free_bits, structure;
    zmq_msg_t held;
    int holding, held_full;
    Py_ssize_t moot;
} runs_t;

/* The held batch into the run's batches; 0 on a Python error. */
static int
release_held(runs_t *r)
{
    if (!r->holding)
        return 1;
    r->holding = 0;
    PyObject *payload = PyBytes_FromStringAndSize(msg_data(&r->held), (Py_ssize_t)msg_size(&r->held));
    msg_close(&r->held);
    PyObject *batch = payload ? Py_BuildValue("(Ni)", payload, r->held_full) : NULL;
    int failed = batch == NULL || PyList_Append(r->batches, batch) < 0;
    Py_XDECREF(batch);
    return !failed;
}

static void
forget_layout(runs_t *r)
{
    if (r->layout != NULL) {
        PyBuffer_Release(&r->free_bits);
        PyBuffer_Release(&r->structure);
        Py_CLEAR(r->layout);
    }
}

/* Hand the open run over as (topic, sender, first seq, last seq, gaps, count, bytes,
 * batches, moot); 0 on a Python error. */
static int
flush_run(runs_t *r)
{
    if (r->topic == NULL)
        return 1;
    int released = release_held(r);
    forget_layout(r);
    PyObject *run = Py_BuildValue("(NNKKnnnNn)", r->topic, r->sender, (unsigned long long)r->first,
                                  (unsigned long long)r->last, r->gaps, r->count, r->size,
                                  r->batches, r->moot);
    r->topic = r->sender = r->batches = NULL;
    if (!released) {
        Py_XDECREF(run);
        return 0;
    }
    if (run == NULL)
        return 0;
    int failed = PyList_Append(r->items, run) < 0;
    Py_DECREF(run);
    return !failed;
}

static void
drop_run(runs_t *r)
{
    if (r->holding) {
        msg_close(&r->held);
        r->holding = 0;
    }
    forget_layout(r);
    Py_CLEAR(r->topic);
    Py_CLEAR(r->sender);
    Py_CLEAR(r->batches);
}

/* recv_runs(handle, limit, mine, pub, full, layouts) -> (items, more): up to limit waiting
 * messages of the tap, each run of publications (kind pub, a usual header) of one sender
 * on one topic as one item (see flush_run), the broker's own (sender mine) left out; any
 * other message as (topic, header, payload) bytes, or () for another frame count.
 * layouts: topic (bytes) -> (free, structure), the usual layout of each topic the cache
 * knows one of: of two neighbours in a run that both have it, the older is moot (the
 * newer sets every tag it sets: hmi.bus.broker.lvc), so it is never copied out of
 * libzmq's message (counted in moot; its FULL flag goes to the newer). */
static PyObject *
tap_recv_runs(PyObject *self, PyObject *args)
{
    unsigned long long handle;
    Py_ssize_t limit;
    Py_buffer mine;
    int pub;
    unsigned long long full_bit;
    PyObject *layouts;
    if (!PyArg_ParseTuple(args, "Kny*iKO!", &handle, &limit, &mine, &pub, &full_bit, &PyDict_Type,
                          &layouts))
        return NULL;
    if (msg_recv == NULL) {
        PyBuffer_Release(&mine);
        PyErr_SetString(PyExc_RuntimeError, "bind() libzmq first");
        return NULL;
    }
    void *sock = (void *)(uintptr_t)handle;
    runs_t r = {0};
    r.items = PyList_New(0);
    int more_waiting = 1, failed = r.items == NULL;
    for (Py_ssize_t n = 0; !failed && n < limit; n++) {
        zmq_msg_t msgs[3], extra;
        int count = 0, kept = 0, more = 0, err = 0;
        do {
            /* (a fourth frame or more: read to the end, the message is not one of ours) */
            zmq_msg_t *msg = count < 3 ? &msgs[count] : &extra;
            msg_init(msg);
            if (msg_recv(msg, sock, ZMQ_DONTWAIT) < 0) {
                err = zmq_errno_fn();
                msg_close(msg);
                break;
            }
            more = msg_more(msg);
            if (count < 3)
                kept++;
            else
                msg_close(msg);
            count++;
        } while (more);
        if (err && count == 0) {
            if (err == EAGAIN) {
                more_waiting = 0;
            } else if (PyList_GET_SIZE(r.items) == 0 && r.topic == NULL) {
                errno = err;
                PyErr_SetFromErrno(PyExc_OSError);
                failed = 1;
            } /* else the error shows at the next call; what was read is handed over */
            break;
        }
        if (err || count != 3) { /* (err: cut short, which a message's frames never are) */
            for (int i = 0; i < kept; i++)
                msg_close(&msgs[i]);
            PyObject *odd = PyTuple_New(0);
            failed = odd == NULL || !flush_run(&r) || PyList_Append(r.items, odd) < 0;
            Py_XDECREF(odd);
            continue;
        }
        const unsigned char *topic = msg_data(&msgs[0]);
        size_t topic_len = msg_size(&msgs[0]);
        header_t h;
        int usual = parse_header(msg_data(&msgs[1]), msg_size(&msgs[1]), &h) && h.kind == pub;
        if (usual && h.sender_len == (size_t)mine.len &&
            memcmp(h.sender, mine.buf, h.sender_len) == 0) { /* the broker's own */
            for (int i = 0; i < 3; i++)
                msg_close(&msgs[i]);
            continue;
        }
        Py_ssize_t payload_len = (Py_ssize_t)msg_size(&msgs[2]);
        int same = usual && r.topic != NULL && h.sender_len == r.sender_len &&
                   memcmp(h.sender, r.sender_raw, h.sender_len) == 0 &&
                   (size_t)PyBytes_GET_SIZE(r.topic) == topic_len &&
                   memcmp(PyBytes_AS_STRING(r.topic), topic, topic_len) == 0;
        PyObject *sender = NULL, *payload = NULL;
        if (usual && !same) {
            sender = PyUnicode_DecodeUTF8((const char *)h.sender, (Py_ssize_t)h.sender_len, NULL);
            if (sender == NULL) { /* not UTF-8: Python says why */
                PyErr_Clear();
                usual = 0;
            }
        }
        if (usual) {
            int full = (h.flags & full_bit) ? 1 : 0;
            if (!same) {
                if (!flush_run(&r)) {
                    failed = 1;
                } else {
                    r.topic = PyBytes_FromStringAndSize((const char *)topic, (Py_ssize_t)topic_len);
                    r.sender = sender;
                    sender = NULL;
                    memcpy(r.sender_raw, h.sender, h.sender_len);
                    r.sender_len = h.sender_len;
                    r.first = h.seq;
                    r.gaps = r.count = r.size = r.moot = 0;
                    r.batches = PyList_New(0);
                    failed = r.topic == NULL || r.batches == NULL;
                    PyObject *layout = failed ? NULL : PyDict_GetItemWithError(layouts, r.topic);
                    if (layout != NULL && PyTuple_Check(layout) && PyTuple_GET_SIZE(layout) == 2 &&
                        PyObject_GetBuffer(PyTuple_GET_ITEM(layout, 0), &r.free_bits,
                                           PyBUF_SIMPLE) == 0) {
                        if (PyObject_GetBuffer(PyTuple_GET_ITEM(layout, 1), &r.structure,
                                               PyBUF_SIMPLE) == 0 &&
                            r.structure.len == r.free_bits.len) {
                            Py_INCREF(layout);
                            r.layout = layout;
                        } else {
                            if (r.structure.obj != NULL)
                                PyBuffer_Release(&r.structure);
                            PyBuffer_Release(&r.free_bits);
                        }
                    }
                    if (PyErr_Occurred())
                        failed = 1;
                }
            } else if (h.seq > r.last && h.seq - r.last > 1) {
                r.gaps++;
            }
            if (!failed) {
                r.last = h.seq;
                r.count++;
                r.size += payload_len;
                if (r.layout != NULL && payload_len == r.structure.len &&
                    masked_equal(msg_data(&msgs[2]), r.free_bits.buf, r.structure.buf,
                                 payload_len)) {
                    if (r.holding) { /* the held one is moot */
                        msg_close(&r.held);
                        r.moot++;
                        full |= r.held_full;
                    }
                    msg_init(&r.held);
                    msg_move(&r.held, &msgs[2]);
                    r.holding = 1;
                    r.held_full = full;
                } else {
                    payload = PyBytes_FromStringAndSize(msg_data(&msgs[2]), payload_len);
                    PyObject *batch = payload ? Py_BuildValue("(Oi)", payload, full) : NULL;
                    failed = batch == NULL || !release_held(&r) ||
                             PyList_Append(r.batches, batch) < 0;
                    Py_XDECREF(batch);
                }
            }
        } else {
            payload = PyBytes_FromStringAndSize(msg_data(&msgs[2]), payload_len);
            PyObject *header = PyBytes_FromStringAndSize(msg_data(&msgs[1]),
                                                         (Py_ssize_t)msg_size(&msgs[1]));
            PyObject *topic_b =
                PyBytes_FromStringAndSize((const char *)topic, (Py_ssize_t)topic_len);
            PyObject *odd =
                header && topic_b && payload ? PyTuple_Pack(3, topic_b, header, payload) : NULL;
            failed = odd == NULL || !flush_run(&r) || PyList_Append(r.items, odd) < 0;
            Py_XDECREF(odd);
            Py_XDECREF(header);
            Py_XDECREF(topic_b);
        }
        Py_XDECREF(sender);
        Py_XDECREF(payload);
        for (int i = 0; i < 3; i++)
            msg_close(&msgs[i]);
    }
    PyBuffer_Release(&mine);
    if (!failed && !flush_run(&r))
        failed = 1;
    if (failed) {
        drop_run(&r);
        Py_XDECREF(r.items);
        return NULL;
    }
    return Py_BuildValue("(NO)", r.items, more_waiting ? Py_True : Py_False);
}

/* (p | f) == s over len bytes. Differences are gathered over a block of 64 bytes before
 * they are tested, so that the compiler can vectorize the block. */
static int
masked_equal(const unsigned char *p, const unsigned char *f, const unsigned char *s,
             Py_ssize_t len)
{
    Py_ssize_t i = 0;
    for (; i + 64 <= len; i += 64) {
        uint64_t diff = 0;
        for (int k = 0; k < 64; k += 8) {
            uint64_t pw, fw, sw;
            memcpy(&pw, p + i + k, 8);
            memcpy(&fw, f + i + k, 8);
            memcpy(&sw, s + i + k, 8);
            diff |= (pw | fw) ^ sw;
        }
        if (diff)
            return 0;
    }
    for (; i < len; i++)
        if ((p[i] | f[i]) != s[i])
            return 0;
    return 1;
}

/* Is item a (bytes, flag) tuple? Sets a TypeError when not. */
static int
check_batch(PyObject *item)
{
    if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2 &&
        PyBytes_Check(PyTuple_GET_ITEM(item, 0)))
        return 1;
    PyErr_SetString(PyExc_TypeError, "pending holds (bytes, flag) tuples");
    return 0;
}

static int
batch_covered(PyObject *item, const Py_buffer *free_bits, const Py_buffer *structure)
{
    PyObject *payload = PyTuple_GET_ITEM(item, 0);
    return PyBytes_GET_SIZE(payload) == structure->len &&
           masked_equal((const unsigned char *)PyBytes_AS_STRING(payload), free_bits->buf,
                        structure->buf, structure->len);
}

static PyObject *
tap_covers(PyObject *self, PyObject *args)
{
    Py_buffer payload, free_bits, structure;
    if (!PyArg_ParseTuple(args, "y*y*y*", &free_bits, &structure, &payload))
        return NULL;
    int match = payload.len == structure.len && free_bits.len == structure.len &&
                masked_equal(payload.buf, free_bits.buf, structure.buf, payload.len);
    PyBuffer_Release(&payload);
    PyBuffer_Release(&free_bits);
    PyBuffer_Release(&structure);
    return PyBool_FromLong(match);
}

/* covered_run(free, structure, pending, start) -> int: walking pending (a list of
 * (payload bytes, full flag) tuples) down from index start, the index of the first batch
 * that the layout does not cover or that is FULL (either ends a run of moot batches);
 * -1 when there is none. */
static PyObject *
tap_covered_run(PyObject *self, PyObject *args)
{
    PyObject *pending;
    Py_buffer free_bits, structure;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "y*y*O!n", &free_bits, &structure, &PyList_Type, &pending,
                          &start))
        return NULL;
    Py_ssize_t i = start < PyList_GET_SIZE(pending) ? start : PyList_GET_SIZE(pending) - 1;
    int failed = free_bits.len != structure.len;
    if (failed)
        PyErr_SetString(PyExc_ValueError, "free and structure differ in size");
    for (; !failed && i >= 0; i--) {
        PyObject *item = PyList_GET_ITEM(pending, i);
        if (!check_batch(item)) {
            failed = 1;
            break;
        }
        int full = PyObject_IsTrue(PyTuple_GET_ITEM(item, 1));
        if (full < 0) {
            failed = 1;
            break;
        }
        if (full || !batch_covered(item, &free_bits, &structure))
            break;
    }
    PyBuffer_Release(&free_bits);
    PyBuffer_Release(&structure);
    return failed ? NULL : PyLong_FromSsize_t(i);
}

/* collapse(free, structure, pending, start) -> (batches, bytes): of two neighbours in
 * pending (a list of (payload bytes, full flag) tuples, oldest first) that the layout
 * both covers, the older is moot (the newer sets every tag it sets): it is removed, and
 * its FULL flag goes to the newer (which then holds every tag of the topic too). Looks at
 * the batches from index start on, and the one before it; returns how many batches and
 * payload bytes were removed. */
static PyObject *
tap_collapse(PyObject *self, PyObject *args)
{
    PyObject *pending;
    Py_buffer free_bits, structure;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "y*y*O!n", &free_bits, &structure, &PyList_Type, &pending,
                          &start))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(pending), removed = 0, removed_bytes = 0;
    Py_ssize_t kept = start > 0 ? start - 1 : 0; /* the last batch kept so far */
    int failed = free_bits.len != structure.len, kept_covered = 0;
    if (failed)
        PyErr_SetString(PyExc_ValueError, "free and structure differ in size");
    else if (kept < n) {
        if (check_batch(PyList_GET_ITEM(pending, kept)))
            kept_covered = batch_covered(PyList_GET_ITEM(pending, kept), &free_bits, &structure);
        else
            failed = 1;
    }
    for (Py_ssize_t i = kept + 1; !failed && i < n; i++) {
        PyObject *item = PyList_GET_ITEM(pending, i);
        if (!check_batch(item)) {
            failed = 1;
            break;
        }
        int covered = batch_covered(item, &free_bits, &structure);
        Py_INCREF(item);
        if (covered && kept_covered) {
            PyObject *older = PyList_GET_ITEM(pending, kept);
            int older_full = PyObject_IsTrue(PyTuple_GET_ITEM(older, 1));
            int full = older_full > 0 ? 0 : PyObject_IsTrue(PyTuple_GET_ITEM(item, 1));
            if (older_full < 0 || full < 0) {
                Py_DECREF(item);
                failed = 1;
                break;
            }
            removed++;
            removed_bytes += PyBytes_GET_SIZE(PyTuple_GET_ITEM(older, 0));
            if (older_full > 0 && !full) { /* the newer batch takes the FULL flag */
                PyObject *flagged = Py_BuildValue("(Oi)", PyTuple_GET_ITEM(item, 0), 1);
                Py_DECREF(item);
                if (flagged == NULL) {
                    failed = 1;
                    break;
                }
                item = flagged;
            }
        } else {
            kept++;
            kept_covered = covered;
        }
        PyList_SetItem(pending, kept, item); /* steals item; releases what was there */
    }
    PyBuffer_Release(&free_bits);
    PyBuffer_Release(&structure);
    if (failed)
        return NULL;
    if (kept + 1 < n && PyList_SetSlice(pending, kept + 1, n, NULL) < 0)
        return NULL;
    return Py_BuildValue("(nn)", removed, removed_bytes);
}

static PyMethodDef methods[] = {
    {"bind", tap_bind, METH_VARARGS,
     "bind(path) -> (major, minor, patch): use the libzmq already loaded from path."},
    {"recv_router", tap_recv_router, METH_VARARGS,
     "recv_router(handle, limit, keyed) -> (messages, more): a ROUTER's waiting messages."},
    {"recv_runs", tap_recv_runs, METH_VARARGS,
     "recv_runs(handle, limit, mine, pub, full) -> (items, more): the tap's runs."},
    {"recv_three", tap_recv_three, METH_VARARGS,
     "recv_three(handle, limit) -> (messages, more): up to limit waiting messages."},
    {"covers", tap_covers, METH_VARARGS,
     "covers(free, structure, payload) -> bool: (payload | free) == structure."},
    {"collapse", tap_collapse, METH_VARARGS,
     "collapse(free, structure, pending, start) -> (batches, bytes): drop moot neighbours."},
    {"covered_run", tap_covered_run, METH_VARARGS,
     "covered_run(free, structure, pending, start) -> int: where a run of moot batches ends."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tapc", "The broker tap's per-message work in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__tapc(void)
{
    return PyModule_Create(&module);
}
