/* core/json: a missing, null or mistyped field reads as the caller's fallback,
 * never a crash; numbers are JSON ints and doubles only. */
#include "core/json.h" // uses: tb_json_num, tb_json_int, tb_json_str, tb_json_bool, tb_json_obj, tb_json_arr, ...
#include "tests/check.h" // uses: CHECK, check_finish

#include <limits.h>
#include <math.h>
#include <string.h>

static struct json_object *parse(const char *text)
{
    struct json_object *o = json_tokener_parse(text);
    CHECK(o, "json-c cannot parse %s", text);
    return o;
}

int main(void)
{
    struct json_object *o = parse("{\"n\": 2.5, \"i\": 7, \"neg\": -3.9, \"s\": \"12\", \"b\": true, \"z\": null,"
                                  " \"o\": {\"k\": 1}, \"a\": [1, 2], \"e\": \"\"}");

    /* Present and of the right type. */
    CHECK(tb_json_num(o, "n", -1) == 2.5, "number");
    CHECK(tb_json_num(o, "i", -1) == 7, "an int is a number");
    CHECK(tb_json_int(o, "i", -1) == 7, "int");
    CHECK(tb_json_int(o, "n", -1) == 2, "a double truncates toward zero");
    CHECK(tb_json_int(o, "neg", 0) == -3, "a negative double truncates toward zero");
    CHECK(!strcmp(tb_json_str(o, "s", "x"), "12"), "string");
    CHECK(!strcmp(tb_json_str(o, "e", "x"), ""), "an empty string is present, not missing");
    CHECK(tb_json_bool(o, "b", 0) == 1, "bool");
    CHECK(tb_json_obj(o, "o") && tb_json_int(tb_json_obj(o, "o"), "k", 0) == 1, "object");
    CHECK(tb_json_arr(o, "a") && json_object_array_length(tb_json_arr(o, "a")) == 2, "array");
    CHECK(tb_json_get(o, "s") && tb_json_get(o, "a"), "get takes any type");

    /* Missing: the fallback, whatever it is. */
    CHECK(isnan(tb_json_num(o, "missing", NAN)), "missing number, NaN fallback");
    CHECK(tb_json_num(o, "missing", 0) == 0, "missing number, 0 fallback");
    CHECK(tb_json_int(o, "missing", 42) == 42, "missing int");
    CHECK(tb_json_str(o, "missing", NULL) == NULL, "missing string, NULL fallback");
    CHECK(!strcmp(tb_json_str(o, "missing", "?"), "?"), "missing string, \"?\" fallback");
    CHECK(tb_json_bool(o, "missing", -1) == -1, "missing bool");
    CHECK(!tb_json_get(o, "missing") && !tb_json_obj(o, "missing") && !tb_json_arr(o, "missing"), "missing getters");

    /* null is missing. */
    CHECK(isnan(tb_json_num(o, "z", NAN)) && tb_json_int(o, "z", 5) == 5, "null number");
    CHECK(tb_json_str(o, "z", NULL) == NULL && tb_json_bool(o, "z", 3) == 3, "null string and bool");
    CHECK(!tb_json_obj(o, "z") && !tb_json_arr(o, "z"), "null object and array");

    /* The wrong type is missing: a numeric string is no number, a bool no number, a number no string. */
    CHECK(isnan(tb_json_num(o, "s", NAN)) && tb_json_num(o, "s", 0) == 0, "a string where a number is expected");
    CHECK(tb_json_int(o, "s", -1) == -1, "a string where an int is expected");
    CHECK(isnan(tb_json_num(o, "b", NAN)), "a bool where a number is expected");
    CHECK(isnan(tb_json_num(o, "o", NAN)) && isnan(tb_json_num(o, "a", NAN)), "an object or array as a number");
    CHECK(tb_json_str(o, "n", NULL) == NULL && tb_json_str(o, "o", NULL) == NULL, "a number or object as a string");
    CHECK(tb_json_bool(o, "i", -1) == -1 && tb_json_bool(o, "s", -1) == -1, "a number or string as a bool");
    CHECK(!tb_json_obj(o, "a") && !tb_json_arr(o, "o") && !tb_json_obj(o, "s"), "object and array types checked");

    /* The container itself: NULL or not an object. */
    CHECK(isnan(tb_json_num(NULL, "n", NAN)) && tb_json_str(NULL, "s", NULL) == NULL && !tb_json_get(NULL, "n"),
          "a NULL object");
    struct json_object *arr = tb_json_arr(o, "a");
    CHECK(tb_json_num(arr, "n", -1) == -1 && !tb_json_get(arr, "0"), "an array is no object");
    CHECK(tb_json_int(tb_json_get(o, "s"), "x", 9) == 9, "a string is no object");

    /* tb_json_copy: truncation, fallback, a NULL fallback is "". */
    char buf[4];
    tb_json_copy(buf, sizeof buf, o, "s", "?");
    CHECK(!strcmp(buf, "12"), "copy: %s", buf);
    struct json_object *lng = parse("{\"s\": \"abcdef\"}");
    tb_json_copy(buf, sizeof buf, lng, "s", "?");
    CHECK(!strcmp(buf, "abc"), "copy truncates: %s", buf);
    tb_json_copy(buf, sizeof buf, o, "n", "?");
    CHECK(!strcmp(buf, "?"), "copy of a mistyped field gives the fallback: %s", buf);
    tb_json_copy(buf, sizeof buf, o, "missing", NULL);
    CHECK(!strcmp(buf, ""), "copy with a NULL fallback: %s", buf);
    json_object_put(lng);

    /* Large ints: exact where a double holds them; outside int's range tb_json_int gives the fallback. */
    struct json_object *big = parse("{\"p53\": 9007199254740992, \"i64\": 9223372036854775807,"
                                    " \"u64\": 18446744073709551615, \"imax\": 2147483647, \"imin\": -2147483648,"
                                    " \"over\": 2147483648, \"under\": -2147483649, \"huge\": 1e300}");
    CHECK(tb_json_num(big, "p53", 0) == 9007199254740992.0, "2^53 exactly");
    CHECK(tb_json_num(big, "i64", 0) == 9223372036854775807.0, "INT64_MAX as a double");
    CHECK(tb_json_num(big, "u64", 0) == 18446744073709551615.0, "UINT64_MAX as a double");
    CHECK(tb_json_int(big, "imax", 0) == INT_MAX && tb_json_int(big, "imin", 0) == INT_MIN, "int's bounds");
    CHECK(tb_json_int(big, "over", -1) == -1 && tb_json_int(big, "under", -1) == -1, "just outside int's range");
    CHECK(tb_json_int(big, "i64", -1) == -1 && tb_json_int(big, "huge", -1) == -1, "far outside int's range");
    json_object_put(big);

    /* NaN and Infinity written as numbers (json-c reads them) stay so; a string "nan" is no number. */
    struct json_object *nf = parse("{\"nan\": NaN, \"inf\": Infinity, \"ninf\": -Infinity, \"over\": 1e400,"
                                   " \"snan\": \"nan\", \"sinf\": \"inf\"}");
    CHECK(isnan(tb_json_num(nf, "nan", 0)), "NaN");
    CHECK(isinf(tb_json_num(nf, "inf", 0)) && tb_json_num(nf, "inf", 0) > 0, "Infinity");
    CHECK(isinf(tb_json_num(nf, "ninf", 0)) && tb_json_num(nf, "ninf", 0) < 0, "-Infinity");
    CHECK(isinf(tb_json_num(nf, "over", 0)), "1e400 overflows to Infinity");
    CHECK(tb_json_int(nf, "nan", 7) == 7 && tb_json_int(nf, "inf", 7) == 7 && tb_json_int(nf, "ninf", 7) == 7,
          "non-finite ints give the fallback");
    CHECK(tb_json_num(nf, "snan", 1) == 1 && tb_json_num(nf, "sinf", 1) == 1, "\"nan\" and \"inf\" are strings");
    json_object_put(nf);

    json_object_put(o);
    return check_finish();
}
