// The Cloudflare KV REST API (v4) over a Workers KV binding, run by miniflare in workerd: the
// simulator `wrangler dev` uses. kvsync's end-to-end tests talk to this Worker through
// `--api-url`, so every listing, cursor, limit and expiration they see is the simulator's own.
//
// It speaks the dialect of `shared/cloudflare-kv-api.md` (§0.1 envelope, §1.2 list keys, §1.3 get
// value, §1.7 bulk write, §1.8 bulk delete, §1.9 bulk get, §5 error codes). Where that document
// leaves a status or code UNVERIFIED, the choice is the one kv-standin makes, so both local
// targets answer alike. README.md beside this file lists what is and is not implemented.
//
// Bindings (set by serve.mjs):
//   TOKEN       the one API token accepted (`Authorization: Bearer <TOKEN>`)
//   ACCOUNT_ID  the one account id the token may use
//   NAMESPACES  JSON object: namespace id -> name of its KV binding
//   KV_*        the KV namespaces themselves

const ROOT = "/client/v4/accounts/";
const LIST_LIMIT_MIN = 10;
const LIST_LIMIT_MAX = 1000;
const BULK_WRITE_MAX = 10000;
// §1.7: the spec's `maxLength: 26214400` is on the bulk item's `value` string (UTF-16 code
// units here, as JavaScript counts), base64 or not; §2: a value holds at most 25 MiB of bytes.
const VALUE_STRING_MAX = 26214400;

export default {
  async fetch(request, env) {
    try {
      return await route(request, env);
    } catch (error) {
      // A bug in this Worker or a binding failure nobody expected: an enveloped 500, never
      // workerd's HTML error page.
      return failure(500, 10001, `simulator worker: ${error?.stack ?? error}`);
    }
  },
};

async function route(request, env) {
  const url = new URL(request.url);
  const denied = authenticate(request.headers, env.TOKEN);
  if (denied) return denied;

  // `/client/v4/accounts/{account}/storage/kv/namespaces/{namespace}/{rest}`, matched on the
  // raw (still percent-encoded) path, so a key may hold `/`, `?` or `%`.
  const path = url.pathname;
  if (!path.startsWith(ROOT)) return noRoute();
  const parts = path.slice(ROOT.length).split("/");
  if (parts.length < 5 || parts[1] !== "storage" || parts[2] !== "kv" || parts[3] !== "namespaces") {
    return noRoute();
  }
  const [account, , , , namespace, ...rest] = parts;
  if (!isIdentifier(account) || !isIdentifier(namespace)) {
    // §5, 7003: a bad path, account or namespace id format.
    return failure(404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
  }
  if (account !== env.ACCOUNT_ID) {
    // A token is scoped to its account: another account is a permission failure (§5, 10000).
    return authError(403);
  }
  const bindings = JSON.parse(env.NAMESPACES);
  const kv = Object.hasOwn(bindings, namespace) ? env[bindings[namespace]] : undefined;
  if (!kv) {
    // §5: 10013 with 404, the message seen live.
    return failure(404, 10013, "get namespace: 'namespace not found'");
  }

  const method = request.method;
  const op = rest.join("/");
  if (method === "GET" && op === "keys") return listKeys(kv, url.searchParams);
  if (method === "PUT" && op === "bulk") return bulkWrite(kv, request);
  if (method === "POST" && op === "bulk/delete") return bulkDelete(kv, request);
  if (method === "DELETE" && op === "bulk") return bulkDelete(kv, request); // §1.8b, deprecated
  if (method === "POST" && op === "bulk/get") return bulkGet(kv, request);
  if (method === "GET" && rest.length >= 2 && rest[0] === "values") {
    // The key is everything after `values/`, percent-decoded (§3.1).
    return getValue(kv, rest.slice(1).join("/"));
  }
  if (method === "PUT" && rest.length >= 2 && rest[0] === "values") {
    return putValue(kv, rest.slice(1).join("/"), request, url.searchParams);
  }
  return noRoute();
}

// ---------------------------------------------------------------------------------------------
// §1.2 List keys: `env.KV.list()` mapped to the REST envelope. The REST answer has no
// `list_complete`: the end is `result_info.cursor == ""`.

async function listKeys(kv, params) {
  let limit = LIST_LIMIT_MAX;
  const rawLimit = params.get("limit");
  if (rawLimit !== null) {
    limit = Number(rawLimit);
    if (!/^[0-9]+$/.test(rawLimit) || limit < LIST_LIMIT_MIN || limit > LIST_LIMIT_MAX) {
      // §1.2: minimum 10, maximum 1000. §5: 10028 "invalid limit argument" (mapping 3P).
      return failure(
        400,
        10028,
        `invalid limit argument ${JSON.stringify(rawLimit)}: must be a number from 10 to 1000`,
      );
    }
  }
  const options = { limit };
  const prefix = params.get("prefix");
  if (prefix) options.prefix = prefix;
  const cursor = params.get("cursor");
  if (cursor) options.cursor = cursor;

  let page;
  try {
    page = await kv.list(options);
  } catch (error) {
    return bindingError(error);
  }
  const result = page.keys.map((key) => {
    const item = { name: key.name };
    if (key.expiration !== undefined && key.expiration !== null) item.expiration = key.expiration;
    if (key.metadata !== undefined && key.metadata !== null) item.metadata = key.metadata;
    return item;
  });
  return success(result, {
    count: result.length,
    cursor: page.list_complete ? "" : (page.cursor ?? ""),
  });
}

// ---------------------------------------------------------------------------------------------
// §1.3 Read a value: raw bytes, no envelope; 404 with 10009 when missing or expired.

async function getValue(kv, encodedKey) {
  let key;
  try {
    key = decodeURIComponent(encodedKey);
  } catch {
    return failure(400, 10001, "the key is not valid UTF-8 once percent-decoded");
  }
  let value;
  try {
    value = await kv.get(key, { type: "arrayBuffer" });
  } catch (error) {
    return bindingError(error);
  }
  if (value === null) return failure(404, 10009, "get: 'key not found'");
  const headers = { "content-type": "application/octet-stream" };
  // §1.3: an expiring key's absolute expiry comes in the `expiration` header. The binding's get
  // does not return it; the listing does, and the key itself sorts first among its prefix.
  const listed = await kv.list({ prefix: key, limit: 1 });
  const first = listed.keys[0];
  if (first && first.name === key && first.expiration) headers.expiration = String(first.expiration);
  return new Response(value, { status: 200, headers });
}

// ---------------------------------------------------------------------------------------------
// §1.5 Write a value: the raw body (which clears the metadata) or `multipart/form-data` with a
// `value` part and an optional `metadata` part (JSON text); the expiration in the query.

async function putValue(kv, encodedKey, request, params) {
  let key;
  try {
    key = decodeURIComponent(encodedKey);
  } catch {
    return failure(400, 10001, "the key is not valid UTF-8 once percent-decoded");
  }
  const options = {};
  for (const [field, option] of [["expiration_ttl", "expirationTtl"], ["expiration", "expiration"]]) {
    const raw = params.get(field);
    if (raw === null) continue;
    if (!/^[0-9]+$/.test(raw)) return invalid(`\`${field}\` must be a number, not ${JSON.stringify(raw)}`);
    // §1.5: when both are given, `expiration_ttl` wins.
    if (options.expirationTtl === undefined) options[option] = Number(raw);
  }
  let value;
  if (multipartBoundary(request.headers.get("content-type") ?? "") === null) {
    value = new Uint8Array(await request.arrayBuffer());
  } else {
    // Parsed as the Fetch standard does (`request.formData()`, as a Worker in production would):
    // a part with a `filename` is a File of bytes, a part without one is UTF-8 text (invalid
    // sequences become U+FFFD), so a client that sends a binary value as a plain field sees it
    // stored mangled, or refused once the decoded text outgrows the limit.
    let form;
    try {
      form = await request.formData();
    } catch {
      return invalid("malformed multipart/form-data body");
    }
    if (!form.has("value")) return invalid("the `value` part is required");
    const part = form.get("value");
    value = typeof part === "string" ? part : new Uint8Array(await part.arrayBuffer());
    if (form.has("metadata")) {
      const field = form.get("metadata");
      const text = typeof field === "string" ? field : await field.text();
      try {
        const metadata = JSON.parse(text);
        if (metadata !== null) options.metadata = metadata;
      } catch {
        return invalid("`metadata` is not JSON");
      }
    }
  }
  try {
    await kv.put(key, value, options);
  } catch (error) {
    return bindingError(error);
  }
  return success(null);
}

function multipartBoundary(contentType) {
  const [kind, ...params] = contentType.split(";");
  if (kind.trim().toLowerCase() !== "multipart/form-data") return null;
  for (const param of params) {
    const [name, value] = param.split("=");
    if (name?.trim().toLowerCase() === "boundary" && value) return value.trim().replace(/^"|"$/g, "");
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// §1.7 Bulk write: a JSON array of `{key, value, base64?, expiration?, expiration_ttl?,
// metadata?}`, at most 10,000 items, each written with `env.KV.put`.

async function bulkWrite(kv, request) {
  const items = await jsonBody(request);
  if (items instanceof Response) return items;
  if (!Array.isArray(items)) return invalid("the request body must be a JSON array of pairs");
  if (items.length > BULK_WRITE_MAX) {
    return invalid(`a bulk write takes at most ${BULK_WRITE_MAX} pairs, not ${items.length}`);
  }
  // The shape is checked for every item before anything is written (as miniflare's own REST
  // emulation does); the limits are the binding's, checked as each pair is written.
  const puts = [];
  for (const [index, item] of items.entries()) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      return invalid(`item ${index}: must be an object`);
    }
    if (typeof item.key !== "string") return invalid(`item ${index}: \`key\` must be a string`);
    if (typeof item.value !== "string") return invalid(`item ${index}: \`value\` must be a string`);
    if (item.value.length > VALUE_STRING_MAX) {
      return invalid(
        `item ${index}: \`value\` is ${item.value.length} characters long, over the limit of ${VALUE_STRING_MAX}; write a larger value with PUT .../values/{key}`,
      );
    }
    if (item.base64 !== undefined && typeof item.base64 !== "boolean") {
      return invalid(`item ${index}: \`base64\` must be a boolean`);
    }
    for (const field of ["expiration", "expiration_ttl"]) {
      if (item[field] !== undefined && item[field] !== null && typeof item[field] !== "number") {
        return invalid(`item ${index}: \`${field}\` must be a number`);
      }
    }
    let value = item.value;
    if (item.base64) {
      value = decodeBase64(item.value);
      if (value === null) return invalid(`item ${index}: \`value\` is not valid base64`);
    }
    const options = {};
    // §1.5/§1.7: when both are given, `expiration_ttl` wins and `expiration` is ignored.
    if (item.expiration_ttl !== undefined && item.expiration_ttl !== null) {
      options.expirationTtl = item.expiration_ttl;
    } else if (item.expiration !== undefined && item.expiration !== null) {
      options.expiration = item.expiration;
    }
    if (item.metadata !== undefined && item.metadata !== null) options.metadata = item.metadata;
    puts.push([item.key, value, options]);
  }
  // A key named twice keeps its last pair (the real API leaves this UNVERIFIED; kvsync never
  // sends duplicates); the rest are written concurrently.
  const last = new Map(puts.map((put) => [put[0], put]));
  const outcomes = await Promise.allSettled(
    [...last.values()].map(([key, value, options]) => kv.put(key, value, options)),
  );
  const refused = outcomes.find((outcome) => outcome.status === "rejected");
  if (refused) return bindingError(refused.reason);
  return success({ successful_key_count: puts.length, unsuccessful_keys: [] });
}

// ---------------------------------------------------------------------------------------------
// §1.8 Bulk delete: a JSON array of keys (strings; `{name}` objects are not accepted).

async function bulkDelete(kv, request) {
  const keys = await jsonBody(request);
  if (keys instanceof Response) return keys;
  if (!Array.isArray(keys) || keys.some((key) => typeof key !== "string")) {
    return invalid("the request body must be a JSON array of key strings");
  }
  if (keys.length > BULK_WRITE_MAX) {
    return invalid(`a bulk delete takes at most ${BULK_WRITE_MAX} keys, not ${keys.length}`);
  }
  const outcomes = await Promise.allSettled(keys.map((key) => kv.delete(key)));
  const refused = outcomes.find((outcome) => outcome.status === "rejected");
  if (refused) return bindingError(refused.reason);
  return success({ successful_key_count: keys.length, unsuccessful_keys: [] });
}

// ---------------------------------------------------------------------------------------------
// §1.9 Bulk get: `{keys, type, withMetadata}`, at most 100 keys, text-based values only. The
// binding's own bulk get (`env.KV.get(keys[])`) reads the values.

async function bulkGet(kv, request) {
  const body = await jsonBody(request);
  if (body instanceof Response) return body;
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return invalid("the request body must be an object `{keys, type, withMetadata}`");
  }
  const { keys, type = "text", withMetadata = false } = body;
  if (!Array.isArray(keys) || keys.some((key) => typeof key !== "string")) {
    return invalid("`keys` must be an array of key strings");
  }
  // At most 100 keys: the binding enforces that limit itself (below).
  if (keys.length < 1) return invalid("`keys` must hold at least one key");
  if (type !== "text" && type !== "json") return invalid(`invalid type ${JSON.stringify(type)}: must be "text" or "json"`);
  if (typeof withMetadata !== "boolean") return invalid("`withMetadata` must be a boolean");

  // The binding's text read decodes as workerd does, dropping a leading U+FEFF, which is what
  // Cloudflare's bulk get does too (tests/cli/simulator.rs checks it).
  let found;
  try {
    found = withMetadata ? await kv.getWithMetadata(keys, "text") : await kv.get(keys, "text");
  } catch (error) {
    return bindingError(error);
  }
  // The binding decodes text leniently (U+FFFD for bytes that are not UTF-8); the REST API
  // only returns text-based values, so read such a value as bytes and refuse the request when
  // it really is not UTF-8.
  const values = {};
  for (const key of keys) {
    const entry = found.get(key) ?? null;
    const text = withMetadata ? entry?.value ?? null : entry;
    if (typeof text === "string" && text.includes("\uFFFD")) {
      const bytes = await kv.get(key, { type: "arrayBuffer" });
      if (bytes !== null && !isUtf8(bytes)) {
        return invalid(
          `key ${JSON.stringify(key)} holds a binary value: bulk get only returns text-based values; read it with GET .../values/{key}`,
        );
      }
    }
    let value = text;
    if (text !== null && type === "json") {
      try {
        value = JSON.parse(text);
      } catch {
        return invalid(`the value of ${JSON.stringify(key)} is not JSON`);
      }
    }
    if (text === null) values[key] = null;
    else if (withMetadata) values[key] = { value, metadata: entry.metadata ?? null };
    else values[key] = value;
  }
  return success({ values });
}

// ---------------------------------------------------------------------------------------------
// Authentication (§6.1, §5): `Authorization: Bearer <token>`. The statuses are kv-standin's
// (UNVERIFIED in the doc): no credentials → 400 with 10000; a header that is not
// `Bearer <token>` → 400 with 6003; any other token → 403 with 10000.

function authenticate(headers, token) {
  const value = headers.get("authorization");
  if (value === null) {
    const legacy = headers.has("x-auth-key") || headers.has("x-auth-email");
    return authError(legacy ? 403 : 400);
  }
  const match = /^bearer\s+(\S.*)$/i.exec(value.trim());
  if (!match) return failure(400, 6003, "Invalid request headers");
  if (match[1].trim() !== token) return authError(403);
  return null;
}

function authError(status) {
  return failure(status, 10000, "Authentication error");
}

// ---------------------------------------------------------------------------------------------
// Envelopes (§0.1).

function success(result, resultInfo) {
  const body = { success: true, errors: [], messages: [], result };
  if (resultInfo !== undefined) body.result_info = resultInfo;
  return Response.json(body);
}

function failure(status, code, message) {
  return Response.json(
    { success: false, errors: [{ code, message }], messages: [], result: null },
    { status },
  );
}

// A validation failure. §5 has no verified code for it; 10001 is what miniflare's own REST
// emulation and kv-standin use.
function invalid(message) {
  return failure(400, 10001, message);
}

function noRoute() {
  return failure(404, 7003, "No route for the URI");
}

// An error thrown by the KV binding, e.g. `KV PUT failed: 414 UTF-8 encoded length of 513
// exceeds key length limit of 512.`: a 400 envelope with the binding's own message.
function bindingError(error) {
  const message = String(error?.message ?? error);
  return failure(400, 10001, message);
}

async function jsonBody(request) {
  try {
    return JSON.parse(await request.text());
  } catch {
    return invalid("the request body is not valid JSON");
  }
}

function isIdentifier(id) {
  // §0.3: at most 32 characters; kv-standin also accepts `-` and `_`.
  return id.length > 0 && id.length <= 32 && /^[A-Za-z0-9_-]+$/.test(id);
}

function decodeBase64(text) {
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

function isUtf8(buffer) {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(buffer);
    return true;
  } catch {
    return false;
  }
}
