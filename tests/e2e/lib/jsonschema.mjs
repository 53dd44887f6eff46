// A small validator for the JSON Schema subset the OpenAPI document uses in its answers:
// $ref (into the document), oneOf, type (one or a list, "null" included), enum, properties,
// required, additionalProperties: false, items, and the formats uuid and unix-ms.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Follows a local $ref ("#/components/schemas/Note") inside doc. */
export function resolve(doc, schema) {
  while (schema && schema.$ref) {
    const parts = schema.$ref.replace(/^#\//, '').split('/');
    schema = parts.reduce((o, k) => o?.[k], doc);
    if (schema === undefined) throw new Error(`unresolved $ref`);
  }
  return schema;
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeOk(want, got) {
  const list = Array.isArray(want) ? want : [want];
  return list.includes(got) || (got === 'integer' && list.includes('number'));
}

/**
 * Validates value against schema; returns a list of "path: problem" strings (empty when
 * it passes).
 */
export function validate(doc, schema, value, path = '$') {
  schema = resolve(doc, schema);
  const errors = [];
  if (schema.oneOf) {
    const passing = schema.oneOf.filter((s) => validate(doc, s, value, path).length === 0);
    if (passing.length !== 1) errors.push(`${path}: matches ${passing.length} of oneOf`);
    return errors;
  }
  const got = typeOf(value);
  if (schema.type !== undefined && !typeOk(schema.type, got)) {
    errors.push(`${path}: is ${got}, schema says ${JSON.stringify(schema.type)}`);
    return errors;
  }
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not in the enum`);
  if (schema.format === 'uuid' && got === 'string' && !UUID.test(value)) errors.push(`${path}: not a uuid`);
  // integer milliseconds, not seconds: later than 1973-03-03
  if (schema.format === 'unix-ms' && got === 'integer' && !(value > 1e11 && value < 1e14))
    errors.push(`${path}: ${value} is not a plausible Unix time in milliseconds`);
  if (got === 'object') {
    for (const name of schema.required ?? [])
      if (!(name in value)) errors.push(`${path}.${name}: required, missing`);
    for (const [k, v] of Object.entries(value)) {
      const prop = schema.properties?.[k];
      if (prop) errors.push(...validate(doc, prop, v, `${path}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${path}.${k}: not in the schema`);
    }
  }
  if (got === 'array' && schema.items)
    value.forEach((v, i) => errors.push(...validate(doc, schema.items, v, `${path}[${i}]`)));
  return errors;
}
