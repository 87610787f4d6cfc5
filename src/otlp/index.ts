export { OtlpDecodeError } from './errors.js';
export { decodeLogsRequest, type DecodeResult } from './decode-proto.js';
export { decodeLogsRequestJson } from './decode-json.js';
export {
  encodeLogsRequest,
  encodeLogsRequestJson,
  encodeLogsResponse,
  encodeLogsResponseJson,
  encodeStatus,
  encodeStatusJson,
  type PartialSuccess,
} from './encode.js';
export { decodeLogsResponse, decodeStatus, type ServerStatus } from './decode-response.js';
