/* JSON strings and string maps exactly as Go 1.19's encoding/json writes them, for the
 * messages sent to receivers (Alertmanager 0.25 is built with Go 1.19).
 *
 * Optional: alerting/gojson.py does the same in Python when this module was not built. A
 * webhook message of a large group is mostly label and annotation maps; encoding them here
 * takes a fifth of the time json's encoder and the Go rewrite after it take.
 * tests/test_gojson.py checks that both versions give the same results.
 *
 * Go's rules: '"' and '\\' escaped with a backslash; \n, \r and \t as such; other control
 * characters, and <, > and & (HTML-safe by default), as \u00XX with lower-case hex; U+2028 and
 * U+2029 as \u2028 and \u2029; invalid UTF-8 (here: a lone surrogate) as \ufffd; everything
 * else as it is. Map keys sorted by their UTF-8 bytes, which for valid text is code point order.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Output goes to a buffer on the stack, moving to the heap only for long texts: most label
 * sets fit, and an allocation per call would cost as much as the encoding. */
#define STACK_SIZE 2048

typedef struct {
    char *data;
    Py_ssize_t length;
    Py_ssize_t capacity;
    int ascii; /* nothing but ASCII written: the str can be made without decoding */
    char stack[STACK_SIZE];
} Buffer;

static void
init(Buffer *b)
{
    b->data = b->stack;
    b->length = 0;
    b->capacity = STACK_SIZE;
    b->ascii = 1;
}

static void
release(Buffer *b)
{
    if (b->data != b->stack) {
        PyMem_Free(b->data);
    }
}

static int
reserve(Buffer *b, Py_ssize_t extra)
{
    if (b->length + extra <= b->capacity) {
        return 0;
    }
    Py_ssize_t capacity = b->capacity;
    while (capacity < b->length + extra) {
        capacity *= 2;
    }
    char *data = PyMem_Malloc(capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(data, b->data, b->length);
    release(b);
    b->data = data;
    b->capacity = capacity;
    return 0;
}

static const char HEX[] = "0123456789abcdef";

/* Writes code point `c` at `out` as Go does inside a string; returns the end of what it wrote
 * (at most 6 bytes), and clears `*ascii` when that is not ASCII. */
static inline char *
put_char(char *out, Py_UCS4 c, int *ascii)
{
    if (c < 0x80) {
        if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
            *out++ = (char)c;
        }
        else if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        }
        else if (c == '\n' || c == '\r' || c == '\t') {
            *out++ = '\\';
            *out++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        }
        else {
            memcpy(out, "\\u00", 4);
            out[4] = HEX[c >> 4];
            out[5] = HEX[c & 0xf];
            out += 6;
        }
    }
    else if (c == 0x2028 || c == 0x2029) {
        memcpy(out, c == 0x2028 ? "\\u2028" : "\\u2029", 6);
        out += 6;
    }
    else if (c >= 0xd800 && c <= 0xdfff) {
        memcpy(out, "\\ufffd", 6);
        out += 6;
    }
    else if (c < 0x800) {
        *ascii = 0;
        *out++ = (char)(0xc0 | (c >> 6));
        *out++ = (char)(0x80 | (c & 0x3f));
    }
    else if (c < 0x10000) {
        *ascii = 0;
        *out++ = (char)(0xe0 | (c >> 12));
        *out++ = (char)(0x80 | ((c >> 6) & 0x3f));
        *out++ = (char)(0x80 | (c & 0x3f));
    }
    else {
        *ascii = 0;
        *out++ = (char)(0xf0 | (c >> 18));
        *out++ = (char)(0x80 | ((c >> 12) & 0x3f));
        *out++ = (char)(0x80 | ((c >> 6) & 0x3f));
        *out++ = (char)(0x80 | (c & 0x3f));
    }
    return out;
}

/* Whether a byte of a one-byte (Latin-1) str is written other than as it is. */
static int
special(Py_UCS1 c)
{
    return c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&';
}

/* Appends `text` as a quoted JSON string; at most 6 bytes per code point ("\u00XX"). Most
 * label values are ASCII with nothing to escape: those are copied in runs. */
static int
put_string(Buffer *b, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "expected str, not %.100s", Py_TYPE(text)->tp_name);
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {
        return -1;
    }
#endif
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (reserve(b, 6 * n + 2) < 0) {
        return -1;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    char *out = b->data + b->length;
    *out++ = '"';
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *bytes = data;
        Py_ssize_t i = 0;
        while (i < n) {
            Py_ssize_t run = i;
            while (run < n && !special(bytes[run])) {
                run++;
            }
            memcpy(out, bytes + i, run - i);
            out += run - i;
            if (run < n) {
                out = put_char(out, bytes[run], &b->ascii);
            }
            i = run + 1;
        }
    }
    else {
        for (Py_ssize_t i = 0; i < n; i++) {
            out = put_char(out, PyUnicode_READ(kind, data, i), &b->ascii);
        }
    }
    *out++ = '"';
    b->length = out - b->data;
    return 0;
}

static int
put_byte(Buffer *b, char byte)
{
    if (reserve(b, 1) < 0) {
        return -1;
    }
    b->data[b->length++] = byte;
    return 0;
}

/* The buffer as a str (it holds valid UTF-8), and released. */
static PyObject *
finish(Buffer *b)
{
    PyObject *result;
    if (b->ascii) {
        result = PyUnicode_New(b->length, 127);
        if (result != NULL) {
            memcpy(PyUnicode_1BYTE_DATA(result), b->data, b->length);
        }
    }
    else {
        result = PyUnicode_DecodeUTF8(b->data, b->length, "strict");
    }
    release(b);
    return result;
}

static PyObject *
string(PyObject *Py_UNUSED(module), PyObject *text)
{
    Buffer b;
    init(&b);
    if (put_string(&b, text) < 0) {
        release(&b);
        return NULL;
    }
    return finish(&b);
}

/* Appends the pairs of `mapping`, keys in order: sorted `names`. */
static int
put_pairs(Buffer *b, PyObject *mapping, PyObject *names)
{
    Py_ssize_t count = PyList_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        PyObject *value = PyObject_GetItem(mapping, name);
        if (value == NULL) {
            return -1;
        }
        int failed = (i && put_byte(b, ',') < 0) || put_string(b, name) < 0 ||
                     put_byte(b, ':') < 0 || put_string(b, value) < 0;
        Py_DECREF(value);
        if (failed) {
            return -1;
        }
    }
    return 0;
}

/* Appends `mapping` as a JSON object, keys sorted. */
static int
put_map(Buffer *b, PyObject *mapping)
{
    PyObject *names = PyMapping_Keys(mapping);
    if (names == NULL) {
        return -1;
    }
    int failed = PyList_Sort(names) < 0 || put_byte(b, '{') < 0 ||
                 put_pairs(b, mapping, names) < 0 || put_byte(b, '}') < 0;
    Py_DECREF(names);
    return failed ? -1 : 0;
}

static PyObject *
string_map(PyObject *Py_UNUSED(module), PyObject *mapping)
{
    Buffer b;
    init(&b);
    if (put_map(&b, mapping) < 0) {
        release(&b);
        return NULL;
    }
    return finish(&b);
}

/* Appends `text` as it is: a piece of JSON the caller wrote. */
static int
put_raw(Buffer *b, PyObject *text)
{
    Py_ssize_t size;
    const char *data = PyUnicode_AsUTF8AndSize(text, &size);
    if (data == NULL || reserve(b, size) < 0) {
        return -1;
    }
    memcpy(b->data + b->length, data, size);
    b->length += size;
    return 0;
}

/* pieces(raw, value, raw, value, ..., raw): the raw pieces as they are and, between them, each
 * value encoded, a str as a string and a dict as a map; UTF-8 bytes. One call makes a whole
 * alert of a message, without a str per part and the copies that joining them takes. */
static PyObject *
pieces(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Buffer b;
    init(&b);
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject *arg = args[i];
        int failed;
        if (i % 2 == 0) {
            failed = put_raw(&b, arg);
        }
        else if (PyUnicode_Check(arg)) {
            failed = put_string(&b, arg);
        }
        else if (PyDict_Check(arg)) {
            failed = put_map(&b, arg);
        }
        else {
            PyErr_Format(PyExc_TypeError, "expected str or dict, not %.100s",
                         Py_TYPE(arg)->tp_name);
            failed = -1;
        }
        if (failed < 0) {
            release(&b);
            return NULL;
        }
    }
    PyObject *result = PyBytes_FromStringAndSize(b.data, b.length);
    release(&b);
    return result;
}

static PyMethodDef methods[] = {
    {"string", string, METH_O,
     "string(text, /)\n--\n\n`text` as Go's encoding/json writes a string, quotes included."},
    {"string_map", string_map, METH_O,
     "string_map(mapping, /)\n--\n\n"
     "A str -> str mapping as Go's encoding/json writes a map[string]string: keys sorted."},
    {"pieces", (PyCFunction)(void (*)(void))pieces, METH_FASTCALL,
     "pieces(raw, value, raw, ..., raw, /)\n--\n\n"
     "UTF-8 bytes: raw pieces of JSON as they are, and between them each value (a str or a\n"
     "str -> str dict) as Go's encoding/json writes it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "alerting._gojson",
    .m_doc = "Go's JSON encoding of strings and string maps, in C.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__gojson(void)
{
    return PyModuleDef_Init(&module);
}
