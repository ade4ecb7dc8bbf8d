/* C versions of the two hot functions of alerting.labels: a label set's identity (label_key)
 * and the hash of Alertmanager's fingerprint (fnv1a).
 *
 * Optional: alerting/labels.py keeps both in Python and uses those when this module was not
 * built (no C compiler at install time). When 100,000 new series appear at once, the Python
 * hash is most of an evaluation (~8 us a label set, ~0.2 us here), and the key of every
 * returned series is built on every evaluation (~1.2 us, ~0.3 us here).
 * tests/test_labels_accelerator.py checks that both versions give the same results.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL
#define SEPARATOR 0xff /* follows each name and value: a byte that no UTF-8 text holds */

static uint64_t
fnv1a_bytes(uint64_t h, const unsigned char *data, Py_ssize_t size)
{
    for (Py_ssize_t i = 0; i < size; i++) {
        h ^= data[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Hashes the UTF-8 of `text`, then the separator, into *h; -1 with an exception set on error. */
static int
fnv1a_text(PyObject *text, uint64_t *h)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "label names and values must be str, not %.100s",
                     Py_TYPE(text)->tp_name);
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {
        return -1;
    }
#endif
    if (PyUnicode_IS_ASCII(text)) {
        /* ASCII is its own UTF-8: hash the string's storage as it is. */
        *h = fnv1a_bytes(*h, PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text));
    }
    else {
        /* A temporary copy, not PyUnicode_AsUTF8, which would keep the UTF-8 inside the string
         * for its lifetime. Like str.encode(), it raises UnicodeEncodeError for a lone surrogate. */
        PyObject *utf8 = PyUnicode_AsUTF8String(text);
        if (utf8 == NULL) {
            return -1;
        }
        *h = fnv1a_bytes(*h, (const unsigned char *)PyBytes_AS_STRING(utf8),
                         PyBytes_GET_SIZE(utf8));
        Py_DECREF(utf8);
    }
    const unsigned char separator = SEPARATOR;
    *h = fnv1a_bytes(*h, &separator, 1);
    return 0;
}

static PyObject *
fnv1a(PyObject *Py_UNUSED(module), PyObject *texts)
{
    PyObject *seq = PySequence_Fast(texts, "fnv1a() takes a sequence of str");
    if (seq == NULL) {
        return NULL;
    }
    uint64_t h = FNV_OFFSET;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (fnv1a_text(PySequence_Fast_GET_ITEM(seq, i), &h) < 0) {
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    return PyLong_FromUnsignedLongLong(h);
}

static PyObject *
label_key(PyObject *Py_UNUSED(module), PyObject *labels)
{
    PyObject *names = PyMapping_Keys(labels);
    if (names == NULL) {
        return NULL;
    }
    if (PyList_Sort(names) < 0) {
        Py_DECREF(names);
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(names);
    PyObject *key = PyTuple_New(2 * count);
    if (key == NULL) {
        Py_DECREF(names);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        PyObject *value = PyObject_GetItem(labels, name);
        if (value == NULL) {
            Py_DECREF(key);
            Py_DECREF(names);
            return NULL;
        }
        Py_INCREF(name);
        PyTuple_SET_ITEM(key, 2 * i, name);
        PyTuple_SET_ITEM(key, 2 * i + 1, value);
    }
    Py_DECREF(names);
    return key;
}

static PyMethodDef methods[] = {
    {"fnv1a", fnv1a, METH_O,
     "fnv1a(texts, /)\n--\n\n"
     "64-bit FNV-1a over the UTF-8 of each str of `texts`, each followed by the byte 0xff."},
    {"label_key", label_key, METH_O,
     "label_key(labels, /)\n--\n\n"
     "The label set's names and values as one tuple: name, value, name, value..., "
     "sorted by name."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "alerting._labels",
    .m_doc = "C versions of alerting.labels' label_key and fingerprint hash.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__labels(void)
{
    return PyModuleDef_Init(&module);
}
