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

/* Appends `text` as a quoted JSON string; at most 6 bytes per code point ("\u00XX"). */
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
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
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
            b->ascii = 0;
            *out++ = (char)(0xc0 | (c >> 6));
            *out++ = (char)(0x80 | (c & 0x3f));
        }
        else if (c < 0x10000) {
            b->ascii = 0;
            *out++ = (char)(0xe0 | (c >> 12));
            *out++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *out++ = (char)(0x80 | (c & 0x3f));
        }
        else {
            b->ascii = 0;
            *out++ = (char)(0xf0 | (c >> 18));
            *out++ = (char)(0x80 | ((c >> 12) & 0x3f));
            *out++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *out++ = (char)(0x80 | (c & 0x3f));
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

static PyObject *
string_map(PyObject *Py_UNUSED(module), PyObject *mapping)
{
    PyObject *names = PyMapping_Keys(mapping);
    if (names == NULL) {
        return NULL;
    }
    Buffer b;
    init(&b);
    int failed = PyList_Sort(names) < 0 || put_byte(&b, '{') < 0 ||
                 put_pairs(&b, mapping, names) < 0 || put_byte(&b, '}') < 0;
    Py_DECREF(names);
    if (failed) {
        release(&b);
        return NULL;
    }
    return finish(&b);
}

static PyMethodDef methods[] = {
    {"string", string, METH_O,
     "string(text, /)\n--\n\n`text` as Go's encoding/json writes a string, quotes included."},
    {"string_map", string_map, METH_O,
     "string_map(mapping, /)\n--\n\n"
     "A str -> str mapping as Go's encoding/json writes a map[string]string: keys sorted."},
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
