/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for system/opts.c: the standalone value parsers, sub-option
 * strings against a schema that has one key of every type (implied key,
 * ",," escapes, wildcard keys, help requests), and one table of bad
 * strings whose error messages must name the option, the key and what is
 * wrong.
 */
#include <string.h>

#include "system/opts.h"

/* ---- standalone parsers ----------------------------------------------- */

typedef struct UintCase {
    const char *in;
    bool ok;
    uint64_t value;
} UintCase;

static const UintCase uint_cases[] = {
    {"0", true, 0},
    {"42", true, 42},
    {"007", true, 7}, /* leading zeros are decimal, not octal */
    {"0x1f", true, 0x1f},
    {"0XFF", true, 0xff},
    {"18446744073709551615", true, UINT64_MAX},
    {"0xffffffffffffffff", true, UINT64_MAX},
    {"18446744073709551616", false, 0},
    {"0x10000000000000000", false, 0},
    {"", false, 0},
    {"-1", false, 0},
    {"+1", false, 0},
    {" 1", false, 0},
    {"1 ", false, 0},
    {"1k", false, 0},
    {"0x", false, 0},
    {"0xg", false, 0},
    {"1.0", false, 0},
};

static const UintCase size_cases[] = {
    {"0", true, 0},
    {"512", true, 512},
    {"512B", true, 512},
    {"4K", true, 4096},
    {"4k", true, 4096},
    {"4KB", true, 4096},
    {"4KiB", true, 4096},
    {"64M", true, 64ULL << 20},
    {"64MiB", true, 64ULL << 20},
    {"3G", true, 3ULL << 30},
    {"2T", true, 2ULL << 40},
    {"16777215T", true, 16777215ULL << 40},
    {"16777216T", false, 0}, /* 2^64: overflow */
    {"99999999999999999999", false, 0},
    {"", false, 0},
    {"M", false, 0},
    {"1.5G", false, 0},
    {"64X", false, 0},
    {"64MB2", false, 0},
    {"64Mib", false, 0},
    {"-1M", false, 0},
    {"0x10", false, 0},
    {"64 M", false, 0},
};

static const UintCase time_cases[] = {
    {"0", true, 0},
    {"100", true, 100},
    {"100ns", true, 100},
    {"10us", true, 10000},
    {"5ms", true, 5000000},
    {"2s", true, 2000000000},
    {"18446744073s", true, 18446744073000000000ULL},
    {"18446744074s", false, 0}, /* overflows 64-bit nanoseconds */
    {"", false, 0},
    {"ms", false, 0},
    {"5 ms", false, 0},
    {"5m", false, 0},
    {"5min", false, 0},
    {"1.5ms", false, 0},
    {"5MS", false, 0},
    {"-5ms", false, 0},
};

static void test_parse_uint_table(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(uint_cases); i++) {
        const UintCase *c = &uint_cases[i];
        uint64_t v = 12345;
        g_test_message("parse_uint('%s')", c->in);
        g_assert_cmpint(parse_uint(c->in, &v), ==, c->ok);
        g_assert_cmpuint(v, ==, c->ok ? c->value : 12345);
    }
}

static void test_parse_size_table(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(size_cases); i++) {
        const UintCase *c = &size_cases[i];
        uint64_t v = 12345;
        g_test_message("parse_size('%s')", c->in);
        g_assert_cmpint(parse_size(c->in, &v), ==, c->ok);
        g_assert_cmpuint(v, ==, c->ok ? c->value : 12345);
    }
}

static void test_parse_time_table(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(time_cases); i++) {
        const UintCase *c = &time_cases[i];
        uint64_t v = 12345;
        g_test_message("parse_time_ns('%s')", c->in);
        g_assert_cmpint(parse_time_ns(c->in, &v), ==, c->ok);
        g_assert_cmpuint(v, ==, c->ok ? c->value : 12345);
    }
}

static void test_parse_bool_table(void)
{
    static const struct {
        const char *in;
        bool ok, value;
    } cases[] = {
        {"on", true, true},   {"yes", true, true},   {"true", true, true},
        {"off", true, false}, {"no", true, false},   {"false", true, false},
        {"ON", false, false}, {"1", false, false},   {"0", false, false},
        {"", false, false},   {"onn", false, false}, {"of", false, false},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        bool v = !cases[i].value;
        bool before = v;
        g_test_message("parse_bool('%s')", cases[i].in);
        g_assert_cmpint(parse_bool(cases[i].in, &v), ==, cases[i].ok);
        g_assert_cmpint(v, ==, cases[i].ok ? cases[i].value : before);
    }
}

static void test_parse_prob_table(void)
{
    static const struct {
        const char *in;
        bool ok;
        double value;
    } cases[] = {
        {"0", true, 0.0},   {"1", true, 1.0},      {"0.25", true, 0.25},
        {".5", true, 0.5},  {"1e-3", true, 0.001}, {"1.0", true, 1.0},
        {"1.5", false, 0},  {"-0.1", false, 0},    {"", false, 0},
        {"nan", false, 0},  {"inf", false, 0},     {" 0.5", false, 0},
        {"0.5x", false, 0}, {"0x1p-1", false, 0},  {"1e999", false, 0},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        double v = -7.0;
        g_test_message("parse_prob('%s')", cases[i].in);
        g_assert_cmpint(parse_prob(cases[i].in, &v), ==, cases[i].ok);
        g_assert_cmpfloat(v, ==, cases[i].ok ? cases[i].value : -7.0);
    }
}

static void test_format(void)
{
    static const struct {
        uint64_t v;
        const char *size, *time;
    } cases[] = {
        {0, "0", "0"},
        {512, "512", "512ns"},
        {4096, "4K", "4096ns"},
        {64ULL << 20, "64M", "67108864ns"},
        {3ULL << 30, "3G", "3221225472ns"},
        {1ULL << 40, "1T", "1099511627776ns"},
        {1000, "1000", "1us"},
        {1500000, "1500000", "1500us"},
        {5000000, "5000000", "5ms"},
        {2000000000, "1953125K", "2s"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = opts_format_size(cases[i].v);
        g_autofree char *t = opts_format_time(cases[i].v);
        uint64_t back;
        g_assert_cmpstr(s, ==, cases[i].size);
        g_assert_cmpstr(t, ==, cases[i].time);
        /* The formatted forms parse back to the same value. */
        g_assert_true(parse_size(s, &back));
        g_assert_cmpuint(back, ==, cases[i].v);
        g_assert_true(parse_time_ns(t, &back));
        g_assert_cmpuint(back, ==, cases[i].v);
    }
}

static void test_check_id(void)
{
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"d0", true},
        {"hba_0", true},
        {"a-b", true},
        {"X", true},
        {"", false},
        {"0d", false},
        {"a.b", false},
        {"a b", false},
        {"a,b", false},
        {"-a", false},
        {"a\x01", false},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         true}, /* 63 characters */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         false}, /* 64 */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *why = NULL;
        bool ok = opts_check_id(cases[i].in, &why);
        g_test_message("opts_check_id('%s')", cases[i].in);
        g_assert_cmpint(ok, ==, cases[i].ok);
        if (ok) {
            g_assert_null(why);
        } else {
            g_assert_nonnull(strstr(why, "is not an id"));
        }
        g_free(why);
    }
}

/* ---- a schema with every type ----------------------------------------- */

static bool check_even(const char *value, char **why)
{
    uint64_t v;

    if (parse_uint(value, &v) && v % 2) {
        *why = g_strdup("is odd");
        return false;
    }
    return true;
}

static const char *const mode_values[] = {"fast", "slow", "off", NULL};

static const OptDesc test_desc[] = {
    {"name", OPT_STRING, "the name"},
    {"flag", OPT_BOOL, "a flag"},
    {"num", OPT_UINT, "a bounded number", NULL, 1, 64},
    {"big", OPT_UINT, "an unbounded number"},
    {"min", OPT_UINT, "at least 10", NULL, 10, 0},
    {"size", OPT_SIZE, "a size", NULL, 4096, 1ULL << 30},
    {"t", OPT_TIME, "a time", NULL, 0, 10000000000ULL},
    {"mode", OPT_ENUM, "a mode", mode_values},
    {"p", OPT_PROB, "a probability"},
    {"even", OPT_UINT, "an even number", .check = check_even},
    {NULL},
};

static const OptsSchema test_schema = {
    .option = "-test",
    .implied = "name",
    .desc = test_desc,
    .wildcard_prefix = "param",
};

static const OptDesc req_desc[] = {
    {"file", OPT_STRING, "a file", .required = true},
    {"n", OPT_UINT, "a number"},
    {NULL},
};

static const OptsSchema req_schema = {
    .option = "-req",
    .desc = req_desc,
};

static Opts *parse_ok(const OptsSchema *s, const char *str)
{
    g_autoptr(GError) err = NULL;
    Opts *o = opts_parse(s, str, &err);

    g_test_message("parse '%s'", str);
    g_assert_no_error(err);
    g_assert_nonnull(o);
    return o;
}

typedef struct GoodUint {
    const char *in;
    const char *key;
    uint64_t value;
} GoodUint;

static const GoodUint good_uints[] = {
    {"num=1", "num", 1},
    {"num=64", "num", 64},
    {"num=0x10", "num", 16},
    {"big=18446744073709551615", "big", UINT64_MAX},
    {"big=0", "big", 0},
    {"min=10", "min", 10},
    {"min=99999", "min", 99999},
    {"size=4K", "size", 4096},
    {"size=1G", "size", 1ULL << 30},
    {"size=65536", "size", 65536},
    {"t=0", "t", 0},
    {"t=10s", "t", 10000000000ULL},
    {"t=250us", "t", 250000},
    {"mode=fast", "mode", 0},
    {"mode=off", "mode", 2},
    {"even=4", "even", 4},
    {"x,num=3", "num", 3},
    {"param.n=0x20", "param.n", 32},
};

static void test_good_uint(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(good_uints); i++) {
        g_autoptr(Opts) o = parse_ok(&test_schema, good_uints[i].in);
        g_assert_true(opts_has(o, good_uints[i].key));
        g_assert_cmpuint(opts_get_uint(o, good_uints[i].key, 777), ==,
                         good_uints[i].value);
    }
}

static void test_good_bool_prob(void)
{
    static const struct {
        const char *in;
        bool flag;
    } bools[] = {
        {"flag=on", true},   {"flag=yes", true}, {"flag=true", true},
        {"flag=off", false}, {"flag=no", false}, {"flag=false", false},
    };
    static const struct {
        const char *in;
        double p;
    } probs[] = {
        {"p=0", 0.0},
        {"p=1", 1.0},
        {"p=0.125", 0.125},
        {"p=1e-2", 0.01},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bools); i++) {
        g_autoptr(Opts) o = parse_ok(&test_schema, bools[i].in);
        g_assert_cmpint(opts_get_bool(o, "flag", !bools[i].flag), ==,
                        bools[i].flag);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(probs); i++) {
        g_autoptr(Opts) o = parse_ok(&test_schema, probs[i].in);
        g_assert_cmpfloat(opts_get_prob(o, "p", -1.0), ==, probs[i].p);
    }
}

static void test_defaults_when_absent(void)
{
    g_autoptr(Opts) o = parse_ok(&test_schema, "");

    g_assert_cmpuint(opts_keys(o)->len, ==, 0);
    g_assert_false(opts_has(o, "num"));
    g_assert_cmpuint(opts_get_uint(o, "num", 9), ==, 9);
    g_assert_cmpuint(opts_get_uint(o, "size", 8192), ==, 8192);
    g_assert_true(opts_get_bool(o, "flag", true));
    g_assert_false(opts_get_bool(o, "flag", false));
    g_assert_cmpfloat(opts_get_prob(o, "p", 0.5), ==, 0.5);
    g_assert_cmpstr(opts_get_str(o, "name", "dflt"), ==, "dflt");
    g_assert_null(opts_get_str(o, "name", NULL));
    g_assert_false(opts_help_requested(o));
    g_assert_true(opts_schema(o) == &test_schema);
}

typedef struct GoodStr {
    const char *in;
    const char *key;
    const char *value;
} GoodStr;

static const GoodStr good_strs[] = {
    /* implied key */
    {"disk0", "name", "disk0"},
    {"name=disk0", "name", "disk0"},
    /* ",," is a literal comma, in implied and explicit values */
    {"a,,b", "name", "a,b"},
    {"a,,b,num=2", "name", "a,b"},
    {"num=2,name=x,,y,,,,z", "name", "x,y,,z"},
    {",,", "name", ","},
    /* '=' after the first one belongs to the value */
    {"name=a=b", "name", "a=b"},
    /* empty string values are allowed for strings */
    {"name=", "name", ""},
    /* wildcard keys are strings */
    {"param.size=64M", "param.size", "64M"},
    {"x,param.a.b=c,,d", "param.a.b", "c,d"},
    /* "help" is literal for a string key given explicitly */
    {"name=help", "name", "help"},
    /* typed keys keep their text too */
    {"size=64M", "size", "64M"},
    {"mode=slow", "mode", "slow"},
};

static void test_good_str(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(good_strs); i++) {
        g_autoptr(Opts) o = parse_ok(&test_schema, good_strs[i].in);
        g_assert_cmpstr(opts_get_str(o, good_strs[i].key, NULL), ==,
                        good_strs[i].value);
        g_assert_false(opts_help_requested(o));
        g_assert_cmpstr(opts_text(o), ==, good_strs[i].in);
    }
}

static void test_keys_in_order(void)
{
    g_autoptr(Opts) o =
        parse_ok(&test_schema, "first,p=0.5,param.z=1,flag=on,num=3");
    const GPtrArray *keys = opts_keys(o);
    static const char *const want[] = {"name", "p", "param.z", "flag", "num"};

    g_assert_cmpuint(keys->len, ==, G_N_ELEMENTS(want));
    for (guint i = 0; i < keys->len; i++) {
        g_assert_cmpstr(keys->pdata[i], ==, want[i]);
    }
}

static void test_wildcard_getters(void)
{
    g_autoptr(Opts) o =
        parse_ok(&test_schema, "param.n=12,param.b=off,param.p=0.5,"
                               "param.bad=zz");

    g_assert_cmpuint(opts_get_uint(o, "param.n", 0), ==, 12);
    g_assert_false(opts_get_bool(o, "param.b", true));
    g_assert_cmpfloat(opts_get_prob(o, "param.p", 0), ==, 0.5);
    /* A wildcard value that does not convert: warning and the default. */
    g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                          "*-test: param.bad: 'zz' is not a number*");
    g_assert_cmpuint(opts_get_uint(o, "param.bad", 5), ==, 5);
    g_test_assert_expected_messages();
}

static void test_wildcard_everything(void)
{
    static const OptDesc d[] = {
        {"name", OPT_STRING, "program", .required = true},
        {NULL},
    };
    static const OptsSchema any = {
        .option = "-any",
        .implied = "name",
        .desc = d,
        .wildcard_prefix = "",
    };
    g_autoptr(Opts) o = parse_ok(&any, "verify,lba=0-100,x.y=z,mode=help");
    g_autoptr(GError) err = NULL;
    Opts *bad;

    g_assert_cmpstr(opts_get_str(o, "name", NULL), ==, "verify");
    g_assert_cmpstr(opts_get_str(o, "lba", NULL), ==, "0-100");
    g_assert_cmpstr(opts_get_str(o, "x.y", NULL), ==, "z");
    /* A wildcard key is a string: "help" is a literal value there. */
    g_assert_cmpstr(opts_get_str(o, "mode", NULL), ==, "help");
    g_assert_false(opts_help_requested(o));
    /* Even with wildcards, keys must not be empty or repeated. */
    bad = opts_parse(&any, "v,=1", &err);
    g_assert_null(bad);
    g_assert_error(err, OPTS_ERROR, OPTS_ERROR_SYNTAX);
    g_clear_error(&err);
    bad = opts_parse(&any, "v,a=1,a=2", &err);
    g_assert_null(bad);
    g_assert_nonnull(strstr(err->message, "-any: a: given more than once"));
}

static void test_wildcard_prefix_needs_dot(void)
{
    static const char *const bad[] = {"param=1", "param.=1", "params.x=1",
                                      "paramx=1"};

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        Opts *o = opts_parse(&test_schema, bad[i], &err);
        g_test_message("parse '%s'", bad[i]);
        g_assert_null(o);
        g_assert_error(err, OPTS_ERROR, OPTS_ERROR_SYNTAX);
        g_assert_nonnull(strstr(err->message, "unknown key"));
        g_assert_nonnull(strstr(err->message, "param.*"));
    }
}

/* ---- errors ----------------------------------------------------------- */

typedef struct BadCase {
    const OptsSchema *schema;
    const char *in;
    OptsErrorCode code;
    /* Every one must appear in the message. */
    const char *want[3];
} BadCase;

static const BadCase bad_cases[] = {
    /* structure */
    {&test_schema,
     "bogus=1",
     OPTS_ERROR_SYNTAX,
     {"-test: bogus: unknown key", "valid keys: name, flag, num"}},
    {&test_schema,
     "x,num=1,num=2",
     OPTS_ERROR_SYNTAX,
     {"-test: num: given more than once"}},
    {&test_schema,
     "x,name=y",
     OPTS_ERROR_SYNTAX,
     {"-test: name: given more than once"}},
    {&test_schema, "x,=1", OPTS_ERROR_SYNTAX, {"-test: empty key in '=1'"}},
    {&test_schema,
     "x,num",
     OPTS_ERROR_SYNTAX,
     {"-test: num: missing '='", "num=VALUE"}},
    {&req_schema, "a.img", OPTS_ERROR_SYNTAX, {"-req: a.img: missing '='"}},
    {&test_schema,
     "num=1,",
     OPTS_ERROR_SYNTAX,
     {"-test: empty element in 'num=1,'"}},
    {&test_schema, ",num=1", OPTS_ERROR_SYNTAX, {"-test: empty element"}},
    {&test_schema,
     "num=1,,,flag=on,",
     OPTS_ERROR_SYNTAX,
     {"-test: empty element"}},
    /* bool */
    {&test_schema,
     "flag=1",
     OPTS_ERROR_VALUE,
     {"-test: flag: '1' is not a boolean", "on or off"}},
    {&test_schema,
     "flag=",
     OPTS_ERROR_VALUE,
     {"-test: flag: '' is not a boolean"}},
    /* numbers */
    {&test_schema,
     "num=abc",
     OPTS_ERROR_VALUE,
     {"-test: num: 'abc' is not a number"}},
    {&test_schema,
     "num=",
     OPTS_ERROR_VALUE,
     {"-test: num: '' is not a number"}},
    {&test_schema,
     "num=-1",
     OPTS_ERROR_VALUE,
     {"-test: num: '-1' is not a number"}},
    {&test_schema,
     "num=0",
     OPTS_ERROR_VALUE,
     {"-test: num: '0' is out of range (1..64)"}},
    {&test_schema,
     "num=65",
     OPTS_ERROR_VALUE,
     {"-test: num: '65' is out of range (1..64)"}},
    {&test_schema,
     "num=99999999999999999999",
     OPTS_ERROR_VALUE,
     {"-test: num: '99999999999999999999' is too large: it overflows 64 "
      "bits (1..64)"}},
    {&test_schema,
     "big=18446744073709551616",
     OPTS_ERROR_VALUE,
     {"-test: big: '18446744073709551616' is too large: it overflows 64 bits "
      "(0..18446744073709551615)"}},
    {&test_schema,
     "min=9",
     OPTS_ERROR_VALUE,
     {"-test: min: '9' is out of range (at least 10)"}},
    /* sizes */
    {&test_schema,
     "size=big",
     OPTS_ERROR_VALUE,
     {"-test: size: 'big' is not a size", "64M"}},
    {&test_schema,
     "size=1.5G",
     OPTS_ERROR_VALUE,
     {"-test: size: '1.5G' is not a size"}},
    {&test_schema,
     "size=1K",
     OPTS_ERROR_VALUE,
     {"-test: size: '1K' is out of range (4K..1G)"}},
    {&test_schema,
     "size=2G",
     OPTS_ERROR_VALUE,
     {"-test: size: '2G' is out of range (4K..1G)"}},
    {&test_schema,
     "size=99999999T",
     OPTS_ERROR_VALUE,
     {"-test: size: '99999999T' is too large: it overflows 64 bits "
      "(4K..1G)"}},
    /* times */
    {&test_schema,
     "t=5min",
     OPTS_ERROR_VALUE,
     {"-test: t: '5min' is not a time", "ns us ms s"}},
    {&test_schema,
     "t=11s",
     OPTS_ERROR_VALUE,
     {"-test: t: '11s' is out of range (0..10s)"}},
    {&test_schema,
     "t=99999999999s",
     OPTS_ERROR_VALUE,
     {"-test: t: '99999999999s' is too large: it overflows 64 bits (0..10s)"}},
    /* enums */
    {&test_schema,
     "mode=medium",
     OPTS_ERROR_VALUE,
     {"-test: mode: 'medium' is not one of: fast, slow, off"}},
    {&test_schema,
     "mode=FAST",
     OPTS_ERROR_VALUE,
     {"-test: mode: 'FAST' is not one of"}},
    /* probabilities */
    {&test_schema,
     "p=1.01",
     OPTS_ERROR_VALUE,
     {"-test: p: '1.01' is out of range (0..1)"}},
    {&test_schema,
     "p=-0.5",
     OPTS_ERROR_VALUE,
     {"-test: p: '-0.5' is not a probability"}},
    {&test_schema,
     "p=half",
     OPTS_ERROR_VALUE,
     {"-test: p: 'half' is not a probability"}},
    {&test_schema,
     "p=nan",
     OPTS_ERROR_VALUE,
     {"-test: p: 'nan' is not a probability"}},
    /* extra check hook */
    {&test_schema, "even=3", OPTS_ERROR_VALUE, {"-test: even: '3' is odd"}},
    /* required keys */
    {&req_schema,
     "n=1",
     OPTS_ERROR_MISSING,
     {"-req: file: missing", "required"}},
    {&req_schema, "", OPTS_ERROR_MISSING, {"-req: file: missing"}},
    /* the first error in command-line order is the one reported */
    {&test_schema, "num=0,flag=maybe", OPTS_ERROR_VALUE, {"-test: num: '0'"}},
    /* structure errors come before value errors */
    {&test_schema,
     "num=0,zzz=1",
     OPTS_ERROR_SYNTAX,
     {"-test: zzz: unknown key"}},
};

static void test_bad(gconstpointer data)
{
    const BadCase *c = data;
    g_autoptr(GError) err = NULL;
    Opts *o = opts_parse(c->schema, c->in, &err);

    g_test_message("parse '%s'", c->in);
    g_assert_null(o);
    g_assert_error(err, OPTS_ERROR, (gint)c->code);
    for (size_t i = 0; i < G_N_ELEMENTS(c->want) && c->want[i]; i++) {
        if (!strstr(err->message, c->want[i])) {
            g_error("message \"%s\" lacks \"%s\"", err->message, c->want[i]);
        }
    }
}

/* ---- help ------------------------------------------------------------- */

static void test_help_requests(void)
{
    static const struct {
        const char *in;
        const char *key; /* expected help key, NULL for all */
    } cases[] = {
        {"help", NULL},
        {"?", NULL},
        {"x,help", NULL},
        {"num=help", "num"},
        {"flag=help", "flag"},
        {"mode=?", "mode"},
        /* help skips value checks and required keys */
        {"num=0,help", NULL},
        {"help,size=nonsense", NULL},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(Opts) o = parse_ok(&test_schema, cases[i].in);
        g_assert_true(opts_help_requested(o));
        g_assert_cmpstr(opts_help_key(o), ==, cases[i].key);
    }
    {
        g_autoptr(Opts) o = parse_ok(&req_schema, "help");
        g_assert_true(opts_help_requested(o));
    }
    {
        /* Unknown keys are still reported when help is asked for. */
        g_autoptr(GError) err = NULL;
        Opts *o = opts_parse(&test_schema, "help,nokey=1", &err);
        g_assert_null(o);
        g_assert_error(err, OPTS_ERROR, OPTS_ERROR_SYNTAX);
    }
}

static char *capture_help(const OptsSchema *s, const char *key)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    g_assert_nonnull(f);
    if (key) {
        opts_print_help_key(s, key, f);
    } else {
        opts_print_help(s, f);
    }
    fclose(f);
    return buf;
}

static void test_print_help(void)
{
    g_autofree char *all = capture_help(&test_schema, NULL);
    g_autofree char *one = capture_help(&test_schema, "mode");
    g_auto(GStrv) lines = g_strsplit(all, "\n", -1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    g_assert_true(g_str_has_prefix(all, "-test keys:\n"));
    for (const OptDesc *d = test_desc; d->name; d++) {
        g_autofree char *pat = g_strdup_printf("%s=", d->name);
        g_assert_nonnull(strstr(all, pat));
        g_assert_nonnull(strstr(all, d->help));
    }
    g_assert_nonnull(strstr(all, "[name=]STR"));
    g_assert_nonnull(strstr(all, "num=NUM(1..64)"));
    g_assert_nonnull(strstr(all, "size=SIZE(4K..1G)"));
    g_assert_nonnull(strstr(all, "t=TIME(0..10s)"));
    g_assert_nonnull(strstr(all, "mode=fast|slow|off"));
    g_assert_nonnull(strstr(all, "param.KEY=STR"));
    for (size_t i = 0; lines[i]; i++) {
        g_assert_cmpuint(strlen(lines[i]), <=, 80);
    }
    g_assert_nonnull(strstr(one, "mode=fast|slow|off"));
    g_assert_null(strstr(one, "num="));

    f = open_memstream(&buf, &len);
    g_assert_false(opts_print_help_key(&test_schema, "nokey", f));
    fclose(f);
    g_assert_cmpuint(len, ==, 0);
    free(buf);

    g_free(one);
    one = capture_help(&req_schema, NULL);
    g_assert_nonnull(strstr(one, "(required)"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/opts/parse/uint", test_parse_uint_table);
    g_test_add_func("/opts/parse/size", test_parse_size_table);
    g_test_add_func("/opts/parse/time", test_parse_time_table);
    g_test_add_func("/opts/parse/bool", test_parse_bool_table);
    g_test_add_func("/opts/parse/prob", test_parse_prob_table);
    g_test_add_func("/opts/format", test_format);
    g_test_add_func("/opts/check-id", test_check_id);
    g_test_add_func("/opts/good/uint", test_good_uint);
    g_test_add_func("/opts/good/bool-prob", test_good_bool_prob);
    g_test_add_func("/opts/good/str", test_good_str);
    g_test_add_func("/opts/good/defaults", test_defaults_when_absent);
    g_test_add_func("/opts/good/key-order", test_keys_in_order);
    g_test_add_func("/opts/wildcard/getters", test_wildcard_getters);
    g_test_add_func("/opts/wildcard/everything", test_wildcard_everything);
    g_test_add_func("/opts/wildcard/prefix", test_wildcard_prefix_needs_dot);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *name = g_strdup_printf("/opts/bad/%02zu", i);
        g_test_add_data_func(name, &bad_cases[i], test_bad);
    }
    g_test_add_func("/opts/help/requests", test_help_requests);
    g_test_add_func("/opts/help/print", test_print_help);
    return g_test_run();
}
