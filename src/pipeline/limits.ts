/**
 * The latest time the log model passes on, in unix nanoseconds: 2262-04-11T23:47:16.854775807Z,
 * int64's largest value. OTLP's timestamps are fixed64 (up to 2^64-1), but ClickHouse's
 * DateTime64(9) and most OTLP consumers hold int64 nanoseconds, where a larger value wraps around
 * to before 1970 (and a TTL then deletes the record at once). Receivers treat a later time as
 * unknown (0), as the OTel Collector treats time 0: the record is stored at its observed time.
 */
export const MAX_UNIX_NANO = (1n << 63n) - 1n;

/**
 * Whether a time parsed from text (a syslog or JSON date) fits the model: OTLP times are unsigned,
 * so a date before 1970 is as unrepresentable as one after MAX_UNIX_NANO.
 */
export function isRepresentableUnixNano(t: bigint): boolean {
  return t >= 0n && t <= MAX_UNIX_NANO;
}

/**
 * How many arrays and maps deep AnyValues may nest, in OTLP/protobuf and OTLP/JSON alike. Real logs
 * nest a few levels; the limit keeps a hostile body from exhausting the stack. It is low enough
 * that whatever is accepted can be encoded again: protobufjs's encoder refuses messages nested over
 * 100 deep, and each map level is three messages (AnyValue, KeyValueList, KeyValue) below the five
 * of request → attribute. A record nested deeper is rejected alone (partial success); its
 * neighbours are kept.
 */
export const MAX_VALUE_DEPTH = 30;
