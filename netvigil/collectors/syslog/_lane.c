/* The syslog collector's lane in C: the common message shapes scanned once, byte by byte.
 *
 * scan(raw: bytes) -> tuple | None reads exactly what the regular expressions _BSD, _RFC5424
 * and _VENDOR of records.py read, and returns None for everything else, including inputs those
 * expressions would accept but this scanner leaves to them (a header token that is not ASCII,
 * a year 0000, a stamp too far from 1970 for exact float arithmetic). None is always safe: the
 * caller then tries the Python lane, then the general parser. tests/unit/collectors/
 * test_syslog_fast_paths.py checks the three agree.
 *
 *   (3164, pri, stamp, month, day, clock, host, app, procid, rest)   procid None when absent or []
 *   (5424, pri, ts, host, app, procid, msgid, sd, rest)              nil fields None, ts None for -
 *   (0, pri, seq, origin, sync, stamp, month, day, clock, year, zone, rest)   Cisco IOS / NX-OS
 *
 * records(datagrams, received, LogRecord, stamp_epoch[, stamps]) scans a whole UDP batch and
 * makes the LogRecord itself where the vendor table has nothing to say, straight from where the
 * header's fields are (no tuple of fields, and a BSD stamp's month, day and clock made as text
 * only when its time is not known yet); collectors/syslog/batch.py says which messages those
 * are, finishes the others, and is tested against the per-message path.
 *
 * Why C: the collector's floor is 150,000 messages/s per core to serialized events, and after
 * the Python lane the regular expressions, the RFC 5424 stamp and the structured data still
 * took two thirds of a message's time. Only the CPython C API is used.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    const unsigned char *s;
    Py_ssize_t n;
    Py_ssize_t p;
} Cur;

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Python's str.isspace() for ASCII: what \s matches in the lane's expressions */
static int is_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
}

/* <PRI> with 0..191 and no leading zero; the value, or -1 */
static int scan_pri(Cur *c) {
    const unsigned char *s = c->s;
    Py_ssize_t p = c->p, n = c->n;
    if (p >= n || s[p] != '<') return -1;
    p++;
    if (p >= n || !is_digit(s[p])) return -1;
    int v = 0, digits = 0;
    if (s[p] == '0') {
        p++;
        digits = 1;
    } else {
        while (p < n && is_digit(s[p]) && digits < 3) {
            v = v * 10 + (s[p] - '0');
            p++;
            digits++;
        }
    }
    if (p >= n || s[p] != '>' || v > 191) return -1;
    c->p = p + 1;
    return v;
}

static PyObject *ascii_str(const unsigned char *s, Py_ssize_t len) {
    return PyUnicode_DecodeASCII((const char *)s, len, "strict");
}

/* the rest of the message, strict UTF-8; NULL with no exception set when it is not UTF-8 */
static PyObject *rest_str(Cur *c) {
    PyObject *r = PyUnicode_DecodeUTF8((const char *)c->s + c->p, c->n - c->p, "strict");
    if (r == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) PyErr_Clear();
    return r;
}

static const char MONTHS[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* a clock dd:dd:dd with an optional fraction of 1-9 digits at p; its end, or -1 */
static Py_ssize_t clock_end(const unsigned char *s, Py_ssize_t n, Py_ssize_t p) {
    if (n - p < 8) return -1;
    for (int i = 0; i < 8; i++) {
        int want_colon = (i == 2 || i == 5);
        if (want_colon ? s[p + i] != ':' : !is_digit(s[p + i])) return -1;
    }
    p += 8;
    if (p < n && s[p] == '.') {
        Py_ssize_t f0 = ++p;
        while (p < n && is_digit(s[p])) p++;
        if (p == f0 || p - f0 > 9) return -1;
    }
    return p;
}

static int is_month(const unsigned char *s, Py_ssize_t n, Py_ssize_t p) {
    if (n - p < 3) return 0;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + p, MONTHS + 3 * i, 3) == 0) return 1;
    return 0;
}

/* "Mmm +d{1,2} " at p: the day's bounds in d0/d1 and the clock's start, or -1 */
static Py_ssize_t month_day(const unsigned char *s, Py_ssize_t n, Py_ssize_t p, Py_ssize_t *d0,
                            Py_ssize_t *d1) {
    if (!is_month(s, n, p)) return -1;
    p += 3;
    if (p >= n || s[p] != ' ') return -1;
    while (p < n && s[p] == ' ') p++;
    *d0 = p;
    while (p < n && is_digit(s[p]) && p - *d0 < 2) p++;
    *d1 = p;
    if (*d1 == *d0 || p >= n || s[p] != ' ') return -1;
    return p + 1;
}

static PyObject *str_or_none(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, int present) {
    if (!present) Py_RETURN_NONE;
    return ascii_str(s + a, b - a);
}

/* ------------------------------------------------------------------------------ RFC 3164 */

/* where a BSD header's fields are, and the rest of the message (a new reference) */
typedef struct {
    Py_ssize_t stamp0, stamp1, day0, day1, clock0, host0, host1, tag0, tag1, pid0, pid1;
    PyObject *rest;
} Bsd;

/* the BSD shape at c->p: 1 with *b filled, 0 when the lane leaves it, -1 on an error */
static int bsd_head(Cur *c, Bsd *b) {
    const unsigned char *s = c->s;
    Py_ssize_t n = c->n, p = c->p;
    Py_ssize_t stamp0 = p, day0, day1;
    p = month_day(s, n, p, &day0, &day1);
    if (p < 0) return 0;
    Py_ssize_t clock0 = p;
    p = clock_end(s, n, p);
    if (p != clock0 + 8) return 0; /* no clock, or a fraction: the BSD shape has none */
    Py_ssize_t stamp1 = p;
    if (p >= n || s[p] != ' ') return 0;
    p++;
    /* a token the BSD header reads as a zone: [A-Z]{1,5}[: ] or [+-]dd:?dd[: ] */
    Py_ssize_t k = 0;
    while (p + k < n && k < 6 && s[p + k] >= 'A' && s[p + k] <= 'Z') k++;
    if (k >= 1 && k <= 5 && p + k < n && (s[p + k] == ':' || s[p + k] == ' ')) return 0;
    if (p + 2 < n && (s[p] == '+' || s[p] == '-') && is_digit(s[p + 1]) && is_digit(s[p + 2])) {
        Py_ssize_t q = p + 3; /* :? greedy: with the colon, then without */
        if (q + 3 < n && s[q] == ':' && is_digit(s[q + 1]) && is_digit(s[q + 2]) &&
            (s[q + 3] == ':' || s[q + 3] == ' '))
            return 0;
        if (q + 2 < n && is_digit(s[q]) && is_digit(s[q + 1]) &&
            (s[q + 2] == ':' || s[q + 2] == ' '))
            return 0;
    }
    /* the hostname: [^ %\[:][^ \[]*+ not ending in a colon, then a space */
    Py_ssize_t host0 = p;
    if (p >= n || s[p] == ' ' || s[p] == '%' || s[p] == '[' || s[p] == ':') return 0;
    while (p < n && s[p] != ' ' && s[p] != '[') {
        if (s[p] >= 0x80) return 0;
        p++;
    }
    Py_ssize_t host1 = p;
    if (p >= n || s[p] != ' ' || s[p - 1] == ':') return 0;
    p++;
    /* the tag: [^\s:\[\]%]{1,48}, an optional [pid] ([^\]\s]{0,128}), a colon */
    Py_ssize_t tag0 = p;
    while (p < n && !is_space(s[p]) && s[p] != ':' && s[p] != '[' && s[p] != ']' &&
           s[p] != '%') {
        if (s[p] >= 0x80) return 0;
        p++;
    }
    Py_ssize_t tag1 = p;
    if (tag1 == tag0 || tag1 - tag0 > 48 || p >= n) return 0;
    Py_ssize_t pid0 = 0, pid1 = 0;
    if (s[p] == '[') {
        p++;
        pid0 = p;
        while (p < n && s[p] != ']' && !is_space(s[p])) {
            if (s[p] >= 0x80) return 0;
            p++;
        }
        pid1 = p;
        if (p >= n || s[p] != ']' || pid1 - pid0 > 128) return 0;
        p++;
    }
    if (p >= n || s[p] != ':') return 0;
    p++;
    if (p < n) {
        if (s[p] != ' ') return 0;
        p++;
    }
    c->p = p;
    PyObject *rest = rest_str(c);
    if (rest == NULL) return PyErr_Occurred() ? -1 : 0;
    *b = (Bsd){stamp0, stamp1, day0, day1, clock0, host0, host1, tag0, tag1, pid0, pid1, rest};
    return 1;
}

/* the fields scan() gives for a BSD header (month, day and clock as text, for stamp_epoch);
 * takes b->rest */
static PyObject *bsd_tuple(const unsigned char *s, int pri, Bsd *b) {
    PyObject *procid = b->pid1 > b->pid0 ? ascii_str(s + b->pid0, b->pid1 - b->pid0)
                                         : Py_NewRef(Py_None);
    return Py_BuildValue(
        "(iiNNNNNNNN)", 3164, pri, ascii_str(s + b->stamp0, b->stamp1 - b->stamp0),
        ascii_str(s + b->stamp0, 3), ascii_str(s + b->day0, b->day1 - b->day0),
        ascii_str(s + b->clock0, 8), ascii_str(s + b->host0, b->host1 - b->host0),
        ascii_str(s + b->tag0, b->tag1 - b->tag0), procid, b->rest);
}

/* ------------------------------------------------------------------------------ RFC 5424 */

/* a header token [!-~]{1,max} then a space; its end, or -1 */
static Py_ssize_t token(Cur *c, Py_ssize_t max) {
    Py_ssize_t p = c->p;
    while (p < c->n && c->s[p] >= 0x21 && c->s[p] <= 0x7e) p++;
    if (p == c->p || p - c->p > max || p >= c->n || c->s[p] != ' ') return -1;
    return p;
}

static PyObject *nil_or_str(const unsigned char *s, Py_ssize_t len) {
    if (len == 1 && s[0] == '-') Py_RETURN_NONE;
    return ascii_str(s, len);
}

static int leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static long days_from_civil(long y, int m, int d) {
    /* days since 1970-01-01 of a proleptic Gregorian date */
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int num(const unsigned char *s, int len) {
    int v = 0;
    for (int i = 0; i < len; i++) {
        if (!is_digit(s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* an RFC 5424 TIMESTAMP at c->p as _TS reads it: its end and Unix seconds in *ts;
 * -1 when it is not one, -2 when it is one but is left to Python (see the top) */
static Py_ssize_t stamp(Cur *c, double *ts) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const unsigned char *s = c->s + c->p;
    Py_ssize_t avail = c->n - c->p;
    if (avail < 20) return -1;
    int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
    int h = num(s + 11, 2), mi = num(s + 14, 2), sec = num(s + 17, 2);
    if (y < 0 || s[4] != '-' || mo < 1 || mo > 12 || s[7] != '-' || d < 1 || d > 31 ||
        s[10] != 'T' || h < 0 || h > 23 || s[13] != ':' || mi < 0 || mi > 59 || s[16] != ':' ||
        sec < 0 || sec > 59)
        return -1;
    Py_ssize_t q = 19;
    long us = 0;
    int frac = 0;
    if (q < avail && s[q] == '.') {
        q++;
        while (q < avail && is_digit(s[q]) && frac < 6) {
            us = us * 10 + (s[q] - '0');
            q++;
            frac++;
        }
        if (frac == 0) return -1;
        for (int i = frac; i < 6; i++) us *= 10;
    }
    long off = 0;
    if (q < avail && s[q] == 'Z') {
        q++;
    } else if (q + 5 < avail && (s[q] == '+' || s[q] == '-')) {
        int oh = num(s + q + 1, 2), om = num(s + q + 4, 2);
        if (oh < 0 || oh > 23 || s[q + 3] != ':' || om < 0 || om > 59) return -1;
        off = (oh * 3600L + om * 60L) * (s[q] == '+' ? 1 : -1);
        q += 6;
    } else {
        return -1;
    }
    if (q >= avail || s[q] != ' ') return -1; /* _TS is followed by the space before HOSTNAME */
    if (y == 0) return -2;
    int dim = mdays[mo - 1] + (mo == 2 && leap(y));
    if (d > dim) return -2; /* September 31st: the general path says why */
    long base = days_from_civil(y, mo, d) * 86400L + h * 3600L + mi * 60L + sec - off;
    if (base <= -9000000000L || base >= 9000000000L) return -2;
    *ts = frac ? (double)(base * 1000000L + us) / 1e6 : (double)base;
    return c->p + q;
}

static int name_char(unsigned char ch) {
    return ch == '!' || (ch >= '#' && ch <= '<') || (ch >= '>' && ch <= '\\') ||
           (ch >= '^' && ch <= '~');
}

/* a NAME ([!#-<>-\\^-~]{1,32}) without a backslash; its end, or -1 (-2: a backslash) */
static Py_ssize_t sd_name(Cur *c) {
    Py_ssize_t p = c->p;
    while (p < c->n && name_char(c->s[p])) {
        if (c->s[p] == '\\') return -2;
        p++;
    }
    if (p == c->p || p - c->p > 32) return -1;
    return p;
}

/* plain structured data into a new dict; NULL with no error set when the lane leaves it */
static PyObject *scan_sd(Cur *c) {
    PyObject *sd = PyDict_New();
    if (sd == NULL) return NULL;
    const unsigned char *s = c->s;
    while (c->p < c->n && s[c->p] == '[') {
        c->p++;
        Py_ssize_t id0 = c->p, id1 = sd_name(c);
        if (id1 < 0) goto leave;
        c->p = id1;
        PyObject *params = PyDict_New();
        if (params == NULL) goto leave;
        PyObject *sdid = ascii_str(s + id0, id1 - id0);
        if (sdid == NULL) {
            Py_DECREF(params);
            goto leave;
        }
        int dup = PyDict_Contains(sd, sdid);
        int bad = dup != 0 || PyDict_SetItem(sd, sdid, params) < 0;
        Py_DECREF(sdid);
        Py_DECREF(params); /* sd holds it now */
        if (bad) goto leave; /* a duplicate SD-ID (an error the general path reports), or
                                no memory (the error is set) */
        while (c->p < c->n && s[c->p] == ' ') {
            c->p++;
            Py_ssize_t k0 = c->p, k1 = sd_name(c);
            if (k1 < 0 || k1 + 1 >= c->n || s[k1] != '=' || s[k1 + 1] != '"') goto leave;
            Py_ssize_t v0 = k1 + 2, v = v0;
            while (v < c->n && s[v] != '"' && s[v] != '\\' && s[v] != ']') v++;
            if (v >= c->n || s[v] != '"') goto leave;
            PyObject *key = ascii_str(s + k0, k1 - k0);
            PyObject *val = PyUnicode_DecodeUTF8((const char *)s + v0, v - v0, "strict");
            if (key == NULL || val == NULL) {
                Py_XDECREF(key);
                Py_XDECREF(val);
                if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) PyErr_Clear();
                goto leave;
            }
            int r = PyDict_SetItem(params, key, val);
            Py_DECREF(key);
            Py_DECREF(val);
            if (r < 0) goto leave;
            c->p = v + 1;
        }
        if (c->p >= c->n || s[c->p] != ']') goto leave;
        c->p++;
    }
    return sd;
leave: /* with an exception set only when it is a real error */
    Py_DECREF(sd);
    return NULL;
}

/* where an RFC 5424 header's fields are (HOSTNAME, APP-NAME, PROCID, MSGID), its time, and its
 * structured data and the rest of the message (new references) */
typedef struct {
    int have_ts;
    double ts;
    Py_ssize_t at[4][2];
    PyObject *sd, *rest;
} R5424;

/* the RFC 5424 shape at c->p: 1 with *h filled, 0 when the lane leaves it, -1 on an error */
static int head_5424(Cur *c, R5424 *h) {
    const unsigned char *s = c->s;
    Py_ssize_t n = c->n, p = c->p;
    if (p >= n || s[p] < '1' || s[p] > '9') return 0;
    Py_ssize_t v0 = p;
    while (p < n && is_digit(s[p]) && p - v0 < 3) p++;
    if (p >= n || s[p] != ' ') return 0;
    c->p = p + 1;
    int have_ts = 0;
    double ts = 0.0;
    if (c->p + 1 < n && s[c->p] == '-' && s[c->p + 1] == ' ') {
        c->p += 2;
    } else {
        Py_ssize_t end = stamp(c, &ts);
        if (end < 0) return 0;
        have_ts = 1;
        c->p = end + 1;
    }
    static const Py_ssize_t limits[4] = {255, 48, 128, 32};
    Py_ssize_t at[4][2];
    for (int i = 0; i < 4; i++) {
        Py_ssize_t end = token(c, limits[i]);
        if (end < 0) return 0;
        at[i][0] = c->p;
        at[i][1] = end;
        c->p = end + 1;
    }
    PyObject *sd;
    if (c->p < n && s[c->p] == '-') {
        c->p++;
        sd = PyDict_New();
    } else if (c->p < n && s[c->p] == '[') {
        sd = scan_sd(c);
        if (sd == NULL) return PyErr_Occurred() ? -1 : 0;
    } else {
        return 0;
    }
    if (sd == NULL) return -1;
    if (c->p < n) {
        if (s[c->p] != ' ') {
            Py_DECREF(sd);
            return 0;
        }
        c->p++;
    }
    PyObject *rest = rest_str(c);
    if (rest == NULL) {
        Py_DECREF(sd);
        return PyErr_Occurred() ? -1 : 0;
    }
    h->have_ts = have_ts;
    h->ts = ts;
    memcpy(h->at, at, sizeof at);
    h->sd = sd;
    h->rest = rest;
    return 1;
}

/* the fields scan() gives for an RFC 5424 header; takes h->sd and h->rest */
static PyObject *tuple_5424(const unsigned char *s, int pri, R5424 *h) {
    PyObject *tsobj = h->have_ts ? PyFloat_FromDouble(h->ts) : Py_NewRef(Py_None);
    return Py_BuildValue(
        "(iiNNNNNNN)", 5424, pri, tsobj, nil_or_str(s + h->at[0][0], h->at[0][1] - h->at[0][0]),
        nil_or_str(s + h->at[1][0], h->at[1][1] - h->at[1][0]),
        nil_or_str(s + h->at[2][0], h->at[2][1] - h->at[2][0]),
        nil_or_str(s + h->at[3][0], h->at[3][1] - h->at[3][0]), h->sd, h->rest);
}

/* ------------------------------------------------------- Cisco IOS and NX-OS headers before % */

static PyObject *scan_vendor(Cur *c, int pri) {
    const unsigned char *s = c->s;
    Py_ssize_t n = c->n, p = c->p, q;
    /* (?:(\d{1,10}): )? */
    Py_ssize_t seq0 = p, seq1 = p;
    q = p;
    while (q < n && is_digit(s[q])) q++;
    if (q > p && q + 1 < n && s[q] == ':' && s[q + 1] == ' ') {
        if (q - p > 10) Py_RETURN_NONE;
        seq1 = q;
        p = q + 2;
    }
    /* (?:([A-Za-z][\w.-]{0,254}): )? with \w as ASCII: a run that stops at a non-ASCII letter is
     * no origin here, and what follows it is no timestamp, so the scan declines */
    Py_ssize_t org0 = p, org1 = p;
    if (p < n && ((s[p] | 0x20) >= 'a' && (s[p] | 0x20) <= 'z')) {
        q = p + 1;
        while (q < n && (s[q] == '_' || s[q] == '.' || s[q] == '-' || is_digit(s[q]) ||
                         ((s[q] | 0x20) >= 'a' && (s[q] | 0x20) <= 'z')))
            q++;
        if (q + 1 < n && s[q] == ':' && s[q + 1] == ' ') {
            if (q - p > 255) Py_RETURN_NONE;
            org1 = q;
            p = q + 2;
        }
    }
    /* ([*.])? */
    Py_ssize_t sync = p;
    int have_sync = p < n && (s[p] == '*' || s[p] == '.');
    if (have_sync) p++;
    /* Mmm dd clock | yyyy Mmm dd clock */
    Py_ssize_t ts0 = p, mon0, d0, d1, year0 = p, clock0, clock1;
    int have_year = 0;
    if (n - p >= 5 && is_digit(s[p]) && is_digit(s[p + 1]) && is_digit(s[p + 2]) &&
        is_digit(s[p + 3]) && s[p + 4] == ' ') {
        have_year = 1;
        p += 5;
    }
    mon0 = p;
    clock0 = month_day(s, n, p, &d0, &d1);
    if (clock0 < 0) Py_RETURN_NONE;
    clock1 = clock_end(s, n, clock0);
    if (clock1 < 0) Py_RETURN_NONE;
    p = clock1;
    Py_ssize_t ts1 = p;
    /* (?: ([A-Z]{1,5}))?: (?=%) */
    Py_ssize_t tz0 = p, tz1 = p;
    if (p < n && s[p] == ' ') {
        tz0 = ++p;
        while (p < n && s[p] >= 'A' && s[p] <= 'Z' && p - tz0 < 6) p++;
        tz1 = p;
        if (tz1 == tz0 || tz1 - tz0 > 5) Py_RETURN_NONE;
    }
    if (n - p < 3 || s[p] != ':' || s[p + 1] != ' ' || s[p + 2] != '%') Py_RETURN_NONE;
    c->p = p + 2;
    PyObject *rest = rest_str(c);
    if (rest == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    /* the stamp as the general path caches it: the timestamp, and " ZONE" when there is one */
    Py_ssize_t stamp1 = tz1 > tz0 ? tz1 : ts1;
    return Py_BuildValue(
        "(iiNNNNNNNNNN)", 0, pri, str_or_none(s, seq0, seq1, seq1 > seq0),
        str_or_none(s, org0, org1, org1 > org0), str_or_none(s, sync, sync + 1, have_sync),
        ascii_str(s + ts0, stamp1 - ts0), ascii_str(s + mon0, 3), ascii_str(s + d0, d1 - d0),
        ascii_str(s + clock0, clock1 - clock0), str_or_none(s, year0, year0 + 4, have_year),
        str_or_none(s, tz0, tz1, tz1 > tz0), rest);
}

/* ------------------------------------------------------------------ a batch to LogRecords */

/* whether the vendor table can have something to say about text (classify's own test, made
 * conservatively: 1 where it is unsure): a % in the first 200 characters, or the first two
 * characters uppercase as str.isupper() says (anything not ASCII among them: unsure) */
static int may_classify(PyObject *text) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    if (PyUnicode_FindChar(text, '%', 0, len < 200 ? len : 200, 1) >= 0) return 1;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    int upper = 0;
    for (Py_ssize_t i = 0; i < len && i < 2; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch >= 0x80) return 1;
        if (ch >= 'a' && ch <= 'z') return 0;
        if (ch >= 'A' && ch <= 'Z') upper = 1;
    }
    return upper;
}

/* text without its trailing CRs and LFs (str.rstrip("\r\n")), a new reference */
static PyObject *rstrip_crlf(PyObject *text) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(text), end = len;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    while (end > 0) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, end - 1);
        if (ch != '\r' && ch != '\n') break;
        end--;
    }
    if (end == len) return Py_NewRef(text);
    return PyUnicode_Substring(text, 0, end);
}

static PyObject *KWNAMES, *S3164, *S5424, *PREFIX;

/* what a batch's records share: the call's arguments, and the BSD stamps' times and the
 * sources' text looked up so far */
typedef struct {
    PyObject *received, *cls, *stamp_epoch, *stamps, *sources;
} Batch;

/* a LogRecord from its fields (borrowed; sd and text stolen); NULL on error */
static PyObject *make_record(Batch *bt, PyObject *peer, long pri, PyObject *ts, PyObject *host,
                             PyObject *app, PyObject *procid, PyObject *msgid, PyObject *sd,
                             PyObject *text, PyObject *rfc) {
    PyObject *out = NULL, *message = NULL, *fields = NULL;
    PyObject *source = PyDict_GetItemWithError(bt->sources, peer); /* borrowed */
    if (source == NULL) {
        if (PyErr_Occurred()) goto done;
        PyObject *made = PyUnicode_Concat(PREFIX, peer);
        if (made == NULL) goto done;
        int r = PyDict_SetItem(bt->sources, peer, made);
        Py_DECREF(made);
        if (r < 0) goto done;
        source = made;
    }
    message = rstrip_crlf(text);
    fields = PyDict_New();
    /* facility and severity: 0..23 and 0..7, small ints (cached by CPython, never NULL) */
    PyObject *facility = PyLong_FromLong(pri >> 3), *severity = PyLong_FromLong(pri & 7);
    if (message && fields && facility && severity) {
        PyObject *args[12] = {
            ts == Py_None ? bt->received : ts, host == Py_None ? peer : host, facility, severity,
            app, procid, msgid, message, rfc, source, sd, fields,
        };
        out = PyObject_Vectorcall(bt->cls, args, 0, KWNAMES);
    }
    Py_XDECREF(facility);
    Py_XDECREF(severity);
done:
    Py_XDECREF(message);
    Py_XDECREF(fields);
    Py_DECREF(sd);
    Py_DECREF(text);
    return out;
}

/* the LogRecord of a BSD message that needs no vendor table (takes b->rest); NULL on error.
 * The stamp's time from bt->stamps, else from stamp_epoch (the only place month, day and
 * clock are needed as text) */
static PyObject *bsd_record(Batch *bt, const unsigned char *s, int pri, Bsd *b, PyObject *peer) {
    PyObject *out = NULL, *host = NULL, *app = NULL, *procid = NULL, *sd = NULL;
    PyObject *stamp = ascii_str(s + b->stamp0, b->stamp1 - b->stamp0);
    if (stamp == NULL) goto fail;
    PyObject *ts = PyDict_GetItemWithError(bt->stamps, stamp); /* borrowed */
    if (ts == NULL) {
        if (PyErr_Occurred()) goto fail;
        PyObject *mon = ascii_str(s + b->stamp0, 3), *t = NULL;
        PyObject *day = ascii_str(s + b->day0, b->day1 - b->day0);
        PyObject *clock = ascii_str(s + b->clock0, 8);
        if (mon && day && clock)
            t = PyObject_CallFunctionObjArgs(bt->stamp_epoch, stamp, bt->received, mon, day, clock,
                                             Py_None, Py_None, NULL);
        Py_XDECREF(mon);
        Py_XDECREF(day);
        Py_XDECREF(clock);
        if (t == NULL) goto fail;
        int r = PyDict_SetItem(bt->stamps, stamp, t);
        Py_DECREF(t); /* the dict holds it */
        if (r < 0) goto fail;
        ts = t;
    }
    host = ascii_str(s + b->host0, b->host1 - b->host0);
    app = ascii_str(s + b->tag0, b->tag1 - b->tag0);
    procid = b->pid1 > b->pid0 ? ascii_str(s + b->pid0, b->pid1 - b->pid0) : Py_NewRef(Py_None);
    sd = PyDict_New();
    if (host == NULL || app == NULL || procid == NULL || sd == NULL) goto fail;
    out = make_record(bt, peer, pri, ts, host, app, procid, Py_None, sd, b->rest, S3164);
    b->rest = NULL; /* make_record took it, and sd */
    sd = NULL;
fail:
    Py_XDECREF(b->rest);
    Py_XDECREF(sd);
    Py_XDECREF(stamp);
    Py_XDECREF(host);
    Py_XDECREF(app);
    Py_XDECREF(procid);
    return out;
}

/* the LogRecord of an RFC 5424 message without MSGID that needs no vendor table (takes h->sd
 * and h->rest); NULL on error */
static PyObject *record_5424(Batch *bt, const unsigned char *s, int pri, R5424 *h,
                             PyObject *peer) {
    PyObject *out = NULL, *f[3];
    for (int i = 0; i < 3; i++) f[i] = nil_or_str(s + h->at[i][0], h->at[i][1] - h->at[i][0]);
    PyObject *ts = h->have_ts ? PyFloat_FromDouble(h->ts) : Py_NewRef(Py_None);
    if (f[0] && f[1] && f[2] && ts) {
        out = make_record(bt, peer, pri, ts, f[0], f[1], f[2], Py_None, h->sd, h->rest, S5424);
    } else {
        Py_DECREF(h->sd);
        Py_DECREF(h->rest);
    }
    for (int i = 0; i < 3; i++) Py_XDECREF(f[i]);
    Py_XDECREF(ts);
    return out;
}

/* one datagram: with a batch, its LogRecord where the lane takes it and the vendor table has
 * nothing to say (a BSD message, or an RFC 5424 one without MSGID, whose text cannot hold a
 * mnemonic); else (and always without a batch: scan()) the lane's fields, or None; NULL on
 * error */
static PyObject *datagram(Batch *bt, PyObject *raw, PyObject *peer) {
    char *buf;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(raw, &buf, &n) < 0) return NULL;
    Cur c = {(const unsigned char *)buf, n, 0};
    int pri = scan_pri(&c);
    if (pri < 0 || c.p >= n) Py_RETURN_NONE;
    Py_ssize_t head = c.p;
    int r;
    if (is_digit(c.s[c.p])) {
        R5424 h;
        r = head_5424(&c, &h);
        if (r > 0) {
            int plain = h.at[3][1] - h.at[3][0] == 1 && c.s[h.at[3][0]] == '-'; /* no MSGID */
            if (bt && plain && !may_classify(h.rest)) return record_5424(bt, c.s, pri, &h, peer);
            return tuple_5424(c.s, pri, &h);
        }
    } else {
        Bsd b;
        r = bsd_head(&c, &b);
        if (r > 0) {
            if (bt && !may_classify(b.rest)) return bsd_record(bt, c.s, pri, &b, peer);
            return bsd_tuple(c.s, pri, &b);
        }
    }
    if (r < 0) return NULL;
    c.p = head; /* what neither RFC's shape takes may be a Cisco header */
    return scan_vendor(&c, pri);
}

static PyObject *scan(PyObject *self, PyObject *arg) {
    (void)self;
    return datagram(NULL, arg, NULL);
}

/* records(datagrams, received, LogRecord, stamp_epoch[, stamps]) -> (items, left): items has
 * one item per datagram, what datagram() gives for it; left lists the indices of the items that
 * are not LogRecords, in order, for the caller to finish. stamps: a BSD stamp's text ->
 * stamp_epoch(stamp, received, ...), read and filled; the caller keeps it for as long as
 * stamp_epoch's own cache would give the same (batch.py: within the hour of received); without
 * it, a new one per call */
static PyObject *records(PyObject *self, PyObject *args) {
    (void)self;
    Batch bt = {NULL, NULL, NULL, NULL, NULL};
    PyObject *datagrams;
    if (!PyArg_ParseTuple(args, "O!O!OO|O!", &PyList_Type, &datagrams, &PyFloat_Type,
                          &bt.received, &bt.cls, &bt.stamp_epoch, &PyDict_Type, &bt.stamps))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(datagrams);
    bt.stamps = bt.stamps ? Py_NewRef(bt.stamps) : PyDict_New();
    bt.sources = PyDict_New();
    PyObject *out = PyList_New(n), *left = PyList_New(0);
    if (out == NULL || left == NULL || bt.stamps == NULL || bt.sources == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(datagrams, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(item, 1))) {
            PyErr_SetString(PyExc_TypeError, "records: each datagram is (bytes, str)");
            goto fail;
        }
        PyObject *got = datagram(&bt, PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1));
        if (got == NULL) goto fail;
        PyList_SET_ITEM(out, i, got);
        if (Py_TYPE(got) != (PyTypeObject *)bt.cls) {
            PyObject *at = PyLong_FromSsize_t(i);
            int r = at == NULL ? -1 : PyList_Append(left, at);
            Py_XDECREF(at);
            if (r < 0) goto fail;
        }
    }
    Py_DECREF(bt.stamps);
    Py_DECREF(bt.sources);
    return Py_BuildValue("(NN)", out, left);
fail:
    Py_XDECREF(out);
    Py_XDECREF(left);
    Py_XDECREF(bt.stamps);
    Py_XDECREF(bt.sources);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, "The lane's fields of one raw message, or None (see records.py)."},
    {"records", records, METH_VARARGS, "A batch's LogRecords where the lane makes them alone."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lane", "The syslog lane in C; see records.py.", -1, methods,
};

PyMODINIT_FUNC PyInit__lane(void) {
    /* interned, as the Struct's field names are: msgspec matches keywords by identity first */
    static const char *names[] = {"ts",     "device", "facility", "severity",
                                  "app_name", "procid", "msgid",    "message",
                                  "rfc",    "source", "structured_data", "fields"};
    KWNAMES = PyTuple_New(12);
    if (KWNAMES == NULL) return NULL;
    for (int i = 0; i < 12; i++) {
        PyObject *name = PyUnicode_InternFromString(names[i]);
        if (name == NULL) return NULL;
        PyTuple_SET_ITEM(KWNAMES, i, name);
    }
    S3164 = PyUnicode_InternFromString("3164");
    S5424 = PyUnicode_InternFromString("5424");
    PREFIX = PyUnicode_InternFromString("syslog:");
    if (KWNAMES == NULL || S3164 == NULL || S5424 == NULL || PREFIX == NULL) return NULL;
    return PyModule_Create(&module);
}
