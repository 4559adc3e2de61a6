/* Whether bytes are deterministic CBOR of the allowed data model, in one pass, in C.

   transport/canonical.py is the reference: it decodes with cbor2, walks the value and
   re-encodes it to compare the bytes, which costs a line worker about 170 us of its
   ~900 us a packet.  This scan gives the same decision without building any object, so
   the server then decodes a packet only once, plainly.  It says yes or no, never why:
   on "no" canonical.py runs its reference path, which names the defect; the tests
   compare the two decisions on random values and on mutated and random bytes.

   Accepted: exactly one item spanning all the input, nested at most MAX_DEPTH
   containers deep, built of unsigned and negative integers in -2^63 .. 2^64-1, byte
   strings, UTF-8 text, arrays, maps with text keys in RFC 8949 4.2.1 order (bytewise
   over the keys' encodings, so no duplicates), false, true, null and finite floats.
   Every argument in its shortest form, every length definite, every float in the
   shortest of half, single and double that holds its value exactly.  Refused: tags,
   undefined and other simple values, NaN and infinities, reserved and indefinite forms.

   Reads only inside the buffer: every read is preceded by a check of what is left. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 16 /* canonical.MAX_DEPTH */

typedef struct {
    const uint8_t *at;
    const uint8_t *end;
} Cursor;

/* The argument of an item whose initial byte has additional info `info`, which must be
   in its shortest form; 0 on success, -1 if reserved, indefinite, short or too long. */
static int argument(Cursor *c, int info, uint64_t *value)
{
    static const uint64_t floor[4] = {24, 0x100, 0x10000, 0x100000000ULL};
    if (info < 24) {
        *value = (uint64_t)info;
        return 0;
    }
    if (info > 27)
        return -1;
    size_t size = (size_t)1 << (info - 24);
    if ((size_t)(c->end - c->at) < size)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v = (v << 8) | c->at[i];
    c->at += size;
    if (v < floor[info - 24])
        return -1;
    *value = v;
    return 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t more;
        uint32_t point;
        if (b >= 0xC2 && b <= 0xDF) {
            more = 1;
            point = b & 0x1F;
        } else if (b >= 0xE0 && b <= 0xEF) {
            more = 2;
            point = b & 0x0F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            more = 3;
            point = b & 0x07;
        } else {
            return 0;
        }
        if (n - i - 1 < more)
            return 0;
        for (size_t k = 1; k <= more; k++) {
            uint8_t t = s[i + k];
            if ((t & 0xC0) != 0x80)
                return 0;
            point = (point << 6) | (t & 0x3F);
        }
        if (more == 2 && (point < 0x800 || (point >= 0xD800 && point <= 0xDFFF)))
            return 0;
        if (more == 3 && (point < 0x10000 || point > 0x10FFFF))
            return 0;
        i += more + 1;
    }
    return 1;
}

/* Whether `x` (finite) is exactly a half-precision value, normal or subnormal. */
static int fits_half(double x)
{
    double a = fabs(x);
    if (a == 0.0)
        return 1;
    if (a > 65504.0 || a < ldexp(1.0, -24))
        return 0;
    if (a < ldexp(1.0, -14)) { /* subnormal: a multiple of 2^-24 */
        double scaled = ldexp(a, 24);
        return scaled == floor(scaled);
    }
    int exponent;
    double mantissa = frexp(a, &exponent); /* in [0.5, 1): 11 significant bits allowed */
    double scaled = ldexp(mantissa, 11);
    return scaled == floor(scaled);
}

static int item(Cursor *c, int depth);

/* A string of `length` bytes at the cursor (UTF-8 when `text`). */
static int string(Cursor *c, uint64_t length, int text)
{
    if ((uint64_t)(c->end - c->at) < length)
        return -1;
    if (text && !utf8_valid(c->at, (size_t)length))
        return -1;
    c->at += length;
    return 0;
}

/* A map's `count` entries: text keys in strictly ascending order of their encodings. */
static int entries(Cursor *c, uint64_t count, int depth)
{
    const uint8_t *previous = NULL;
    size_t previous_size = 0;
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *key = c->at;
        if (key >= c->end || (*key >> 5) != 3 || item(c, depth + 1) < 0)
            return -1;
        size_t size = (size_t)(c->at - key);
        if (previous != NULL) {
            size_t common = size < previous_size ? size : previous_size;
            int order = memcmp(previous, key, common);
            if (order > 0 || (order == 0 && previous_size >= size))
                return -1;
        }
        previous = key;
        previous_size = size;
        if (item(c, depth + 1) < 0)
            return -1;
    }
    return 0;
}

static int simple_or_float(Cursor *c, int info)
{
    if (info >= 20 && info <= 22) /* false, true, null */
        return 0;
    if (info < 25 || info > 27)
        return -1;
    size_t size = (size_t)1 << (info - 24);
    if ((size_t)(c->end - c->at) < size)
        return -1;
    const uint8_t *b = c->at;
    c->at += size;
    if (info == 25) /* half: shortest by construction; exponent all ones is inf/NaN */
        return ((b[0] >> 2) & 0x1F) == 0x1F ? -1 : 0;
    if (info == 26) {
        uint32_t bits = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        float f;
        memcpy(&f, &bits, sizeof f);
        return (!isfinite(f) || fits_half((double)f)) ? -1 : 0;
    }
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = (bits << 8) | b[i];
    double d;
    memcpy(&d, &bits, sizeof d);
    if (!isfinite(d))
        return -1;
    return (fabs(d) <= FLT_MAX && (double)(float)d == d) ? -1 : 0; /* a single would do */
}

static int item(Cursor *c, int depth)
{
    if (c->at >= c->end)
        return -1;
    int major = *c->at >> 5, info = *c->at & 0x1F;
    c->at++;
    if (major == 7)
        return simple_or_float(c, info);
    uint64_t value;
    if (major == 6 || argument(c, info, &value) < 0)
        return -1;
    switch (major) {
    case 0:
        return 0;
    case 1: /* -1 - value must not be below -2^63 */
        return value <= (uint64_t)INT64_MAX ? 0 : -1;
    case 2:
    case 3:
        return string(c, value, major == 3);
    case 4:
        if (depth >= MAX_DEPTH)
            return -1;
        for (uint64_t i = 0; i < value; i++)
            if (item(c, depth + 1) < 0)
                return -1;
        return 0;
    default: /* 5 */
        return depth >= MAX_DEPTH ? -1 : entries(c, value, depth);
    }
}

static PyObject *deterministic(PyObject *module, PyObject *data)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Cursor c = {(const uint8_t *)view.buf, (const uint8_t *)view.buf + view.len};
    int ok = item(&c, 0) == 0 && c.at == c.end;
    PyBuffer_Release(&view);
    return PyBool_FromLong(ok);
}

static PyMethodDef methods[] = {
    {"deterministic", deterministic, METH_O,
     "deterministic(data, /) -> bool\n--\n\n"
     "Whether data is exactly one deterministic CBOR item of the allowed data model."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "transport._cbor_check",
    "The deterministic-CBOR check of transport.canonical, in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cbor_check(void)
{
    return PyModule_Create(&module);
}
