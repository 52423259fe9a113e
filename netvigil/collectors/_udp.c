/* Batched UDP receive for the push collectors: recvmmsg(2), many datagrams per system call.
 *
 * Receiver(fd, batch=64, size=65536) owns `batch` buffers of `size` bytes for one datagram
 * socket; recv() reads what the socket holds, up to `batch` datagrams, without waiting
 * (MSG_DONTWAIT), and returns them as a list of (payload: bytes, peer: str) in arrival order;
 * an empty list when the socket has nothing. The peer is the sender's address as text, the
 * way socket.recvfrom() spells addr[0] ("192.0.2.1", "::1", "::ffff:192.0.2.1").
 *
 * A buffer of 65,536 bytes holds any UDP payload (at most 65,527 bytes over IPv6 without
 * jumbograms, 65,507 over IPv4), so no datagram is cut, as with asyncio's transport. The
 * buffers are one allocation that the kernel backs with memory only where datagrams land.
 *
 * Not thread-safe: one Receiver is read by one thread at a time (the GIL is released during
 * the system call, and the buffers are the object's own). It does not own the descriptor:
 * its socket must stay open while it reads (the listeners close theirs after the last read).
 *
 * Why C, and not a library: nothing kept reads a batch of datagrams into Python.
 * - CPython's socket module has recvfrom(), recvmsg() and recvmsg_into(), one datagram each,
 *   and no recvmmsg().
 * - asyncio's datagram transport, and uvloop's (uvloop/handles/udp.pyx: a poll handle that
 *   calls sock.recvfrom() once per readiness, not libuv's UV_UDP_RECVMMSG), read one
 *   datagram per turn of the event loop: an epoll_wait, a callback and a recvfrom each.
 * - The one PyPI wrapper (pysockmmsg 0.0.2, 2021, source only, no release since) is not
 *   maintained; liburing (io_uring) would change how the whole loop waits.
 * bench/udp_receive.py measures the ways of receiving against each other (recvfrom loop,
 * asyncio's transport, this); this one costs the least per datagram. Only the CPython C API
 * and libc are used. Where recvmmsg is missing the build of this module is skipped
 * (pyproject.toml: optional) and udprecv.PyReceiver, a recvfrom loop, gives the same results.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
    PyObject_HEAD
    int fd;
    unsigned int batch;
    size_t size;
    char *arena;
    struct mmsghdr *msgs;
    struct iovec *iovs;
    struct sockaddr_storage *addrs;
    struct sockaddr_storage last; /* the previous datagram's sender, and its text */
    PyObject *last_peer;
} Receiver;

static void Receiver_dealloc(Receiver *self) {
    free(self->arena);
    free(self->msgs);
    free(self->iovs);
    free(self->addrs);
    Py_XDECREF(self->last_peer);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Receiver_init(Receiver *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"fd", "batch", "size", NULL};
    int fd;
    unsigned int batch = 64;
    Py_ssize_t size = 65536;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|In", kwlist, &fd, &batch, &size))
        return -1;
    if (fd < 0 || batch < 1 || batch > 1024 || size < 1 || size > (1 << 20)) {
        PyErr_SetString(PyExc_ValueError,
                        "Receiver: fd >= 0, 1 <= batch <= 1024, 1 <= size <= 1 MiB");
        return -1;
    }
    if (self->arena != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Receiver is already initialised");
        return -1;
    }
    self->fd = fd;
    self->batch = batch;
    self->size = (size_t)size;
    self->arena = malloc((size_t)batch * (size_t)size);
    self->msgs = calloc(batch, sizeof(struct mmsghdr));
    self->iovs = calloc(batch, sizeof(struct iovec));
    self->addrs = calloc(batch, sizeof(struct sockaddr_storage));
    if (!self->arena || !self->msgs || !self->iovs || !self->addrs) {
        PyErr_NoMemory();
        return -1;
    }
    memset(&self->last, 0, sizeof(self->last));
    self->last_peer = NULL;
    return 0;
}

/* the sender's address as text; the previous one's object again when it is the same */
static PyObject *peer_of(Receiver *self, const struct sockaddr_storage *sa) {
    char text[INET6_ADDRSTRLEN];
    const void *addr;
    size_t len;
    if (sa->ss_family == AF_INET) {
        addr = &((const struct sockaddr_in *)sa)->sin_addr;
        len = sizeof(struct in_addr);
    } else if (sa->ss_family == AF_INET6) {
        addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        len = sizeof(struct in6_addr);
    } else {
        return PyUnicode_FromString("?");
    }
    if (self->last_peer != NULL && self->last.ss_family == sa->ss_family) {
        const void *prev = sa->ss_family == AF_INET
                               ? (const void *)&((const struct sockaddr_in *)&self->last)->sin_addr
                               : (const void *)&((const struct sockaddr_in6 *)&self->last)->sin6_addr;
        if (memcmp(prev, addr, len) == 0) {
            Py_INCREF(self->last_peer);
            return self->last_peer;
        }
    }
    if (inet_ntop(sa->ss_family, addr, text, sizeof(text)) == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);
    PyObject *peer = PyUnicode_FromString(text);
    if (peer == NULL) return NULL;
    Py_XDECREF(self->last_peer);
    Py_INCREF(peer);
    self->last_peer = peer;
    memcpy(&self->last, sa, sizeof(*sa));
    return peer;
}

static PyObject *Receiver_recv(Receiver *self, PyObject *Py_UNUSED(ignored)) {
    if (self->arena == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Receiver is not initialised");
        return NULL;
    }
    unsigned int n = self->batch;
    for (unsigned int i = 0; i < n; i++) {
        self->iovs[i].iov_base = self->arena + (size_t)i * self->size;
        self->iovs[i].iov_len = self->size;
        memset(&self->msgs[i].msg_hdr, 0, sizeof(struct msghdr));
        self->msgs[i].msg_hdr.msg_iov = &self->iovs[i];
        self->msgs[i].msg_hdr.msg_iovlen = 1;
        self->msgs[i].msg_hdr.msg_name = &self->addrs[i];
        self->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int got;
    do {
        Py_BEGIN_ALLOW_THREADS
        got = recvmmsg(self->fd, self->msgs, n, MSG_DONTWAIT, NULL);
        Py_END_ALLOW_THREADS
    } while (got < 0 && errno == EINTR && !PyErr_CheckSignals());
    if (got < 0) {
        if (PyErr_Occurred()) return NULL;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return PyList_New(0);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *out = PyList_New(got);
    if (out == NULL) return NULL;
    for (int i = 0; i < got; i++) {
        size_t len = self->msgs[i].msg_len;
        if (len > self->size) len = self->size;
        PyObject *data = PyBytes_FromStringAndSize(self->iovs[i].iov_base, (Py_ssize_t)len);
        PyObject *peer = data ? peer_of(self, &self->addrs[i]) : NULL;
        PyObject *pair = peer ? PyTuple_Pack(2, data, peer) : NULL;
        Py_XDECREF(data);
        Py_XDECREF(peer);
        if (pair == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, pair);
    }
    return out;
}

static PyMethodDef Receiver_methods[] = {
    {"recv", (PyCFunction)Receiver_recv, METH_NOARGS,
     "recv() -> list[tuple[bytes, str]]: the datagrams waiting on the socket, up to the "
     "batch, without waiting (empty when there are none)."},
    {NULL, NULL, 0, NULL},
};

static PyObject *Receiver_get_batch(Receiver *self, void *closure) {
    return PyLong_FromUnsignedLong(self->batch);
}

static PyGetSetDef Receiver_getset[] = {
    {"batch", (getter)Receiver_get_batch, NULL, "datagrams read at most per recv()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ReceiverType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netvigil.collectors._udp.Receiver",
    .tp_doc = "Receiver(fd, batch=64, size=65536): batched reads of one datagram socket.",
    .tp_basicsize = sizeof(Receiver),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Receiver_init,
    .tp_dealloc = (destructor)Receiver_dealloc,
    .tp_methods = Receiver_methods,
    .tp_getset = Receiver_getset,
};

static struct PyModuleDef udpmodule = {
    PyModuleDef_HEAD_INIT, "_udp", "Batched UDP receive with recvmmsg(2).", -1, NULL,
};

PyMODINIT_FUNC PyInit__udp(void) {
    if (PyType_Ready(&ReceiverType) < 0) return NULL;
    PyObject *m = PyModule_Create(&udpmodule);
    if (m == NULL) return NULL;
    Py_INCREF(&ReceiverType);
    if (PyModule_AddObject(m, "Receiver", (PyObject *)&ReceiverType) < 0) {
        Py_DECREF(&ReceiverType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
