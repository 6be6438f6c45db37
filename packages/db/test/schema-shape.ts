// The database "shape" (tables, columns, enums, keys, indexes, foreign keys) two ways: read from a
// live PostgreSQL catalog, and derived from prisma/schema.prisma with Prisma Migrate's PostgreSQL
// conventions. migrations.test.ts applies the migrations to a fresh database and asserts the two
// agree, standing in for `prisma migrate diff`, whose schema-engine binary cannot be fetched here.
//
// The schema is parsed by @prisma/prisma-schema-wasm, Prisma's own schema parser; its wasm is
// byte-identical to the prisma_schema_build_bg.wasm the installed `prisma` CLI ships.
//
// Types are compared as PostgreSQL's format_type() prints them ("timestamp(3) with time zone",
// "text[]", "\"Environment\""), defaults as pg_get_expr() prints them ("CURRENT_TIMESTAMP",
// "'pending'::\"NotificationState\"", "'{}'::jsonb"). Column order is not compared: Prisma does not
// either. Anything this module does not know how to derive throws, rather than passing silently.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { get_dmmf } from "@prisma/prisma-schema-wasm";
import type pg from "pg";

export const SCHEMA_PATH = fileURLToPath(new URL("../../../prisma/schema.prisma", import.meta.url));

// ---------------------------------------------------------------------------------------------
// The shape
// ---------------------------------------------------------------------------------------------

export interface ColumnShape {
  /** As format_type() prints it; enum types double-quoted when PostgreSQL would quote them. */
  type: string;
  notNull: boolean;
  /** As pg_get_expr() prints it (jsonb literals canonicalised), or null for none. */
  default: string | null;
}

export interface PrimaryKeyShape {
  name: string;
  columns: string[];
}

export interface IndexShape {
  unique: boolean;
  /** Access method: btree, hash, gin, ... */
  method: string;
  /** Key columns in order; " DESC" appended for descending ones. */
  columns: string[];
  /** Partial index predicate (Prisma never makes one). */
  where: string | null;
}

/** ON DELETE / ON UPDATE actions, spelt as in SQL. */
export type ReferentialAction = "NO ACTION" | "RESTRICT" | "CASCADE" | "SET NULL" | "SET DEFAULT";

export interface ForeignKeyShape {
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

export interface TableShape {
  columns: Record<string, ColumnShape>;
  primaryKey: PrimaryKeyShape | null;
  /** Unique and plain indexes by name; the primary key's own index is not listed. */
  indexes: Record<string, IndexShape>;
  foreignKeys: Record<string, ForeignKeyShape>;
}

export interface DbShape {
  /** Enum types and their values in declaration order. */
  enums: Record<string, string[]>;
  tables: Record<string, TableShape>;
}

// ---------------------------------------------------------------------------------------------
// From the live catalog
// ---------------------------------------------------------------------------------------------

/** Tables that are bookkeeping, not part of the data model. */
const IGNORED_TABLES = ["_prisma_migrations"];

const ACTION_BY_CODE: Record<string, ReferentialAction> = {
  a: "NO ACTION",
  r: "RESTRICT",
  c: "CASCADE",
  n: "SET NULL",
  d: "SET DEFAULT",
};

function actionFromCode(code: string): ReferentialAction {
  const action = ACTION_BY_CODE[code];
  if (!action) throw new Error(`unknown referential action code ${JSON.stringify(code)}`);
  return action;
}

interface ColumnRow {
  table_name: string;
  column_name: string;
  formatted_type: string;
  type_kind: string;
  type_name: string;
  element_kind: string | null;
  element_name: string | null;
  not_null: boolean;
  column_default: string | null;
  identity: string;
  generated: string;
}

interface ConstraintRow {
  name: string;
  kind: "p" | "f";
  table_name: string;
  columns: string[];
  referenced_table: string | null;
  referenced_columns: string[] | null;
  on_delete: string;
  on_update: string;
}

interface IndexRow {
  name: string;
  table_name: string;
  is_unique: boolean;
  is_primary: boolean;
  method: string;
  predicate: string | null;
  columns: string[];
}

/** Reads the shape of one schema (`public` by default) of the database `client` is connected to. */
export async function readCatalogShape(client: pg.Client, schema = "public"): Promise<DbShape> {
  const enumRows = await client.query<{ name: string; labels: string[] }>(
    `SELECT t.typname::text AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
       FROM pg_type t
       JOIN pg_namespace n ON n.oid = t.typnamespace
       JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE n.nspname = $1
      GROUP BY t.typname`,
    [schema],
  );

  const tableRows = await client.query<{ name: string }>(
    `SELECT c.relname::text AS name
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT (c.relname = ANY ($2::text[]))`,
    [schema, IGNORED_TABLES],
  );

  const columnRows = await client.query<ColumnRow>(
    `SELECT c.relname::text AS table_name,
            a.attname::text AS column_name,
            format_type(a.atttypid, a.atttypmod) AS formatted_type,
            t.typtype::text AS type_kind,
            t.typname::text AS type_name,
            et.typtype::text AS element_kind,
            et.typname::text AS element_name,
            a.attnotnull AS not_null,
            pg_get_expr(d.adbin, d.adrelid) AS column_default,
            a.attidentity::text AS identity,
            a.attgenerated::text AS generated
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT (c.relname = ANY ($2::text[]))
        AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema, IGNORED_TABLES],
  );

  const constraintRows = await client.query<ConstraintRow>(
    `SELECT con.conname::text AS name,
            con.contype::text AS kind,
            c.relname::text AS table_name,
            ARRAY(SELECT a.attname::text
                    FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                   ORDER BY k.ord) AS columns,
            rc.relname::text AS referenced_table,
            CASE WHEN con.contype = 'f' THEN
              ARRAY(SELECT a.attname::text
                      FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                     ORDER BY k.ord)
            END AS referenced_columns,
            con.confdeltype::text AS on_delete,
            con.confupdtype::text AS on_update
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_class rc ON rc.oid = con.confrelid
      WHERE n.nspname = $1 AND con.contype IN ('p', 'f') AND NOT (c.relname = ANY ($2::text[]))`,
    [schema, IGNORED_TABLES],
  );

  // Unique constraints show up here through their backing index, the way Prisma sees them too.
  const indexRows = await client.query<IndexRow>(
    `SELECT ic.relname::text AS name,
            c.relname::text AS table_name,
            ix.indisunique AS is_unique,
            ix.indisprimary AS is_primary,
            am.amname::text AS method,
            pg_get_expr(ix.indpred, ix.indrelid) AS predicate,
            ARRAY(SELECT COALESCE(a.attname::text, '(' || pg_get_indexdef(ix.indexrelid, k.ord::int, true) || ')')
                         || CASE WHEN (k.opt & 1) = 1 THEN ' DESC' ELSE '' END
                    FROM unnest(ix.indkey::int2[], ix.indoption::int2[]) WITH ORDINALITY AS k(attnum, opt, ord)
                    LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum AND k.attnum <> 0
                   WHERE k.ord <= ix.indnkeyatts
                   ORDER BY k.ord) AS columns
       FROM pg_index ix
       JOIN pg_class ic ON ic.oid = ix.indexrelid
       JOIN pg_class c ON c.oid = ix.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_am am ON am.oid = ic.relam
      WHERE n.nspname = $1 AND NOT (c.relname = ANY ($2::text[]))`,
    [schema, IGNORED_TABLES],
  );

  const enums: Record<string, string[]> = {};
  for (const row of enumRows.rows) enums[row.name] = row.labels;

  const tables: Record<string, TableShape> = {};
  for (const row of tableRows.rows) tables[row.name] = { columns: {}, primaryKey: null, indexes: {}, foreignKeys: {} };
  const table = (name: string): TableShape => {
    const found = tables[name];
    if (!found) throw new Error(`catalog row for unknown table ${name}`);
    return found;
  };

  for (const row of columnRows.rows) {
    // Enum types are written the one way schema-derived types are, whatever format_type would quote.
    let type = row.formatted_type;
    if (row.type_kind === "e") type = quoteIdent(row.type_name);
    else if (row.element_kind === "e" && row.element_name !== null) type = `${quoteIdent(row.element_name)}[]`;
    let columnDefault = row.column_default === null ? null : normalizeDefault(row.column_default);
    // Prisma never makes identity or generated columns; spell them out so they show in a diff.
    if (row.identity) columnDefault = `GENERATED ${row.identity === "a" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY`;
    if (row.generated) columnDefault = `GENERATED ALWAYS AS (${row.column_default ?? ""}) STORED`;
    table(row.table_name).columns[row.column_name] = { type, notNull: row.not_null, default: columnDefault };
  }

  for (const row of constraintRows.rows) {
    if (row.kind === "p") {
      table(row.table_name).primaryKey = { name: row.name, columns: row.columns };
    } else {
      table(row.table_name).foreignKeys[row.name] = {
        columns: row.columns,
        referencedTable: row.referenced_table ?? "?",
        referencedColumns: row.referenced_columns ?? [],
        onDelete: actionFromCode(row.on_delete),
        onUpdate: actionFromCode(row.on_update),
      };
    }
  }

  for (const row of indexRows.rows) {
    if (row.is_primary) continue; // described by primaryKey
    table(row.table_name).indexes[row.name] = {
      unique: row.is_unique,
      method: row.method,
      columns: row.columns,
      where: row.predicate,
    };
  }

  return sortShape({ enums, tables });
}

// ---------------------------------------------------------------------------------------------
// From schema.prisma
// ---------------------------------------------------------------------------------------------

// The parts of Prisma's DMMF datamodel this module reads.
export interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: "scalar" | "object" | "enum" | "unsupported";
  isList: boolean;
  isRequired: boolean;
  isUpdatedAt?: boolean;
  type: string;
  nativeType?: [string, string[]] | null;
  hasDefaultValue: boolean;
  default?: unknown;
  relationName?: string;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}

export interface DmmfModel {
  name: string;
  dbName: string | null;
  schema?: string | null;
  fields: DmmfField[];
}

export interface DmmfEnum {
  name: string;
  dbName?: string | null;
  values: { name: string; dbName?: string | null }[];
}

export interface DmmfIndex {
  model: string;
  type: "id" | "unique" | "normal" | "fulltext";
  isDefinedOnField: boolean;
  name?: string | null;
  dbName?: string | null;
  algorithm?: string;
  fields: { name: string; sortOrder?: "asc" | "desc"; length?: number; operatorClass?: string }[];
}

export interface DmmfDatamodel {
  enums: DmmfEnum[];
  models: DmmfModel[];
  types: unknown[];
  indexes: DmmfIndex[];
}

// wasm-bindgen's panic hook reports through this global; without it a panic would surface as a
// TypeError about the registry instead of Prisma's message.
const panicHolder = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } };
panicHolder.PRISMA_WASM_PANIC_REGISTRY ??= {
  set_message(message: string) {
    throw new Error(`prisma-schema-wasm panicked: ${message}`);
  },
};

/** Parses Prisma schema text into its DMMF datamodel, with Prisma's own parser and validator. */
export function getDatamodel(schemaText: string, fileName = "schema.prisma"): DmmfDatamodel {
  let output: string;
  try {
    output = get_dmmf(JSON.stringify({ prismaSchema: [[fileName, schemaText]], noColor: true }));
  } catch (error) {
    // Validation errors come back as JSON holding a coloured report; make it readable.
    const raw = error instanceof Error ? error.message : String(error);
    let message = raw;
    try {
      message = (JSON.parse(raw) as { message?: string }).message ?? raw;
    } catch {
      // not JSON: keep it as it is
    }
    throw new Error(`schema.prisma does not validate:\n${stripAnsi(message)}`);
  }
  return (JSON.parse(output) as { datamodel: DmmfDatamodel }).datamodel;
}

export async function readSchemaText(path = SCHEMA_PATH): Promise<string> {
  return readFile(path, "utf8");
}

/** PostgreSQL's identifier length limit (NAMEDATALEN - 1), which Prisma's default names respect. */
const MAX_IDENTIFIER_LENGTH = 63;

const ACTION_BY_PRISMA_NAME: Record<string, ReferentialAction> = {
  Cascade: "CASCADE",
  Restrict: "RESTRICT",
  NoAction: "NO ACTION",
  SetNull: "SET NULL",
  SetDefault: "SET DEFAULT",
};

function actionFromPrisma(name: string): ReferentialAction {
  const action = ACTION_BY_PRISMA_NAME[name];
  if (!action) throw new Error(`unknown referential action ${name}`);
  return action;
}

/** Prisma's default constraint names (psl ConstraintNames): `<table>_<columns>` cut to fit, then the suffix. */
function constraintName(table: string, columns: string[], suffix: string): string {
  let base = columns.length ? `${table}_${columns.join("_")}` : table;
  const budget = MAX_IDENTIFIER_LENGTH - suffix.length;
  const bytes = Buffer.from(base);
  if (bytes.length >= budget) {
    // Cut on a character boundary, as Prisma does (floor_char_boundary).
    let end = budget;
    while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    base = bytes.subarray(0, end).toString();
  }
  return `${base}${suffix}`;
}

const SCALAR_TYPES: Record<string, string> = {
  String: "text",
  Int: "integer",
  BigInt: "bigint",
  Float: "double precision",
  Decimal: "numeric(65,30)",
  Boolean: "boolean",
  DateTime: "timestamp(3) without time zone",
  Json: "jsonb",
  Bytes: "bytea",
};

/** `@db.X` types without arguments, as format_type prints them. */
const PLAIN_NATIVE_TYPES: Record<string, string> = {
  Text: "text",
  Uuid: "uuid",
  Xml: "xml",
  Inet: "inet",
  Citext: "citext",
  Boolean: "boolean",
  Integer: "integer",
  SmallInt: "smallint",
  BigInt: "bigint",
  Oid: "oid",
  Real: "real",
  DoublePrecision: "double precision",
  Money: "money",
  Date: "date",
  Json: "json",
  JsonB: "jsonb",
  ByteA: "bytea",
};

/** `@db.X(args)` as format_type prints it. */
function nativeTypeName([name, args]: [string, string[]]): string {
  const plain = PLAIN_NATIVE_TYPES[name];
  if (plain) return plain;
  const mod = args.length ? `(${args.join(",")})` : "";
  switch (name) {
    case "Char":
      return `character${mod}`;
    case "VarChar":
      return `character varying${mod}`;
    case "Bit":
      return `bit${mod}`;
    case "VarBit":
      return `bit varying${mod}`;
    case "Decimal":
      return `numeric${mod}`;
    case "Timestamp":
      return `timestamp${mod} without time zone`;
    case "Timestamptz":
      return `timestamp${mod} with time zone`;
    case "Time":
      return `time${mod} without time zone`;
    case "Timetz":
      return `time${mod} with time zone`;
    default:
      throw new Error(`schema-shape does not know the native type @db.${name}; teach it`);
  }
}

/** The type name a string literal default is cast to in pg_get_expr's output. */
function stringCastFor(field: DmmfField): string {
  const native = field.nativeType?.[0];
  switch (native) {
    case undefined:
    case "Text":
      return "text";
    case "VarChar":
      return "character varying";
    case "Char":
      return "bpchar";
    case "Uuid":
      return "uuid";
    default:
      throw new Error(`schema-shape cannot render a string default for @db.${native}; teach it`);
  }
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** An integer constant as pg_get_expr prints it once coerced to the column's type. */
function integerLiteral(value: bigint): string {
  const fitsInteger = value >= -2147483648n && value <= 2147483647n;
  if (!fitsInteger) return `'${value}'::bigint`;
  return value >= 0n ? value.toString() : `'${value}'::integer`;
}

function numericLiteral(value: number): string {
  if (value >= 0) return String(value);
  return Number.isInteger(value) ? `'${value}'::integer` : `'${value}'::numeric`;
}

function defaultFor(model: DmmfModel, field: DmmfField, table: string, column: string, enums: Map<string, DmmfEnum>): string | null {
  if (!field.hasDefaultValue || field.default === undefined) return null;
  const value = field.default;
  const where = `${model.name}.${field.name}`;

  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const fn = value as { name: string; args: unknown[] };
    switch (fn.name) {
      case "now":
        return "CURRENT_TIMESTAMP";
      case "autoincrement":
        return `nextval('${quoteIdent(`${table}_${column}_seq`)}'::regclass)`;
      case "dbgenerated": {
        // Written as given; it must be spelt the way pg_get_expr prints it to compare equal.
        const expression = fn.args[0];
        return typeof expression === "string" ? normalizeDefault(expression) : null;
      }
      // Generated by Prisma Client, not by the database.
      case "uuid":
      case "cuid":
      case "nanoid":
      case "ulid":
        return null;
      default:
        throw new Error(`schema-shape does not know @default(${fn.name}()) on ${where}; teach it`);
    }
  }

  if (Array.isArray(value)) {
    if (value.length === 0 && field.kind === "scalar") {
      return `ARRAY[]::${nativeOrScalarType(field)}[]`;
    }
    throw new Error(`schema-shape does not render non-empty list defaults (${where}); teach it`);
  }

  if (field.kind === "enum") {
    const enumDef = enums.get(field.type);
    const enumValue = enumDef?.values.find((candidate) => candidate.name === value);
    if (!enumDef || !enumValue) throw new Error(`unknown enum default ${String(value)} on ${where}`);
    return `${sqlString(enumValue.dbName ?? enumValue.name)}::${quoteIdent(enumDef.dbName ?? enumDef.name)}`;
  }

  switch (field.type) {
    case "String":
      return `${sqlString(String(value))}::${stringCastFor(field)}`;
    case "Int":
    case "BigInt":
      return integerLiteral(BigInt(value as string | number));
    case "Float":
    case "Decimal":
      return numericLiteral(Number(value));
    case "Boolean":
      return String(value);
    case "Json":
      return normalizeDefault(`${sqlString(String(value))}::jsonb`);
    default:
      throw new Error(`schema-shape does not render ${field.type} default values (${where}); teach it`);
  }
}

function nativeOrScalarType(field: DmmfField): string {
  if (field.nativeType) return nativeTypeName(field.nativeType);
  const type = SCALAR_TYPES[field.type];
  if (!type) throw new Error(`unknown scalar type ${field.type}`);
  return type;
}

/**
 * The shape Prisma Migrate would create on PostgreSQL for this datamodel: what `prisma migrate diff
 * --from-empty --to-schema` would emit, seen through the catalog.
 */
export function shapeFromDatamodel(datamodel: DmmfDatamodel, schemaText?: string): DbShape {
  if (datamodel.types.length) throw new Error("composite types exist only on MongoDB");
  // The DMMF does not carry @relation(map: ...) names, so a schema using them cannot be checked here.
  if (schemaText !== undefined && /@relation\([^)]*\bmap\s*:/.test(schemaText)) {
    throw new Error("schema-shape does not know @relation(map: ...) foreign key names; teach it");
  }

  const enumsByName = new Map(datamodel.enums.map((enumDef) => [enumDef.name, enumDef]));
  const modelsByName = new Map(datamodel.models.map((model) => [model.name, model]));
  const tableOf = (model: DmmfModel): string => model.dbName ?? model.name;
  const columnOf = (field: DmmfField): string => field.dbName ?? field.name;
  const fieldOf = (model: DmmfModel, name: string): DmmfField => {
    const field = model.fields.find((candidate) => candidate.name === name);
    if (!field) throw new Error(`${model.name} has no field ${name}`);
    return field;
  };

  const enums: Record<string, string[]> = {};
  for (const enumDef of datamodel.enums) {
    enums[enumDef.dbName ?? enumDef.name] = enumDef.values.map((value) => value.dbName ?? value.name);
  }

  const tables: Record<string, TableShape> = {};
  for (const model of datamodel.models) {
    if (model.schema) throw new Error(`${model.name}: multiSchema (@@schema) is not supported by schema-shape`);
    const tableName = tableOf(model);
    const table: TableShape = { columns: {}, primaryKey: null, indexes: {}, foreignKeys: {} };
    tables[tableName] = table;

    for (const field of model.fields) {
      if (field.kind === "unsupported") {
        throw new Error(`${model.name}.${field.name}: Unsupported("${field.type}") fields are not supported by schema-shape`);
      }
      if (field.kind === "object") continue;
      const column = columnOf(field);
      const baseType = field.kind === "enum" ? quoteIdent(enumsByName.get(field.type)?.dbName ?? field.type) : nativeOrScalarType(field);
      table.columns[column] = {
        type: field.isList ? `${baseType}[]` : baseType,
        // Prisma creates scalar lists as nullable arrays, whatever the DMMF says of isRequired.
        notNull: field.isRequired && !field.isList,
        default: defaultFor(model, field, tableName, column, enumsByName),
      };
    }

    // Foreign keys, from the side of each relation that holds the fields.
    for (const field of model.fields) {
      if (field.kind !== "object") continue;
      const from = field.relationFromFields ?? [];
      if (from.length === 0) {
        const target = modelsByName.get(field.type);
        const back = target?.fields.find((other) => other.relationName === field.relationName && other !== field);
        if (field.isList && back?.isList) {
          throw new Error(`${model.name}.${field.name}: implicit many-to-many relations are not supported by schema-shape`);
        }
        continue;
      }
      const target = modelsByName.get(field.type);
      if (!target) throw new Error(`${model.name}.${field.name} refers to unknown model ${field.type}`);
      const fromFields = from.map((name) => fieldOf(model, name));
      const columns = fromFields.map(columnOf);
      const anyOptional = fromFields.some((fromField) => !fromField.isRequired);
      table.foreignKeys[constraintName(tableName, columns, "_fkey")] = {
        columns,
        referencedTable: tableOf(target),
        referencedColumns: (field.relationToFields ?? []).map((name) => columnOf(fieldOf(target, name))),
        // Prisma's defaults: Restrict for a required relation, SetNull for an optional one; Cascade on update.
        onDelete: actionFromPrisma(field.relationOnDelete ?? (anyOptional ? "SetNull" : "Restrict")),
        onUpdate: actionFromPrisma(field.relationOnUpdate ?? "Cascade"),
      };
    }
  }

  for (const index of datamodel.indexes) {
    const model = modelsByName.get(index.model);
    if (!model) throw new Error(`index on unknown model ${index.model}`);
    const tableName = tableOf(model);
    const table = tables[tableName];
    if (!table) throw new Error(`no table for ${model.name}`);
    const columns = index.fields.map((indexField) => {
      if (indexField.operatorClass) {
        throw new Error(`${model.name}: index operator classes are not supported by schema-shape`);
      }
      return columnOf(fieldOf(model, indexField.name));
    });
    const keyColumns = index.fields.map((indexField, i) => `${columns[i]}${indexField.sortOrder === "desc" ? " DESC" : ""}`);
    switch (index.type) {
      case "id":
        table.primaryKey = { name: index.dbName ?? constraintName(tableName, [], "_pkey"), columns };
        break;
      case "unique":
      case "normal": {
        const unique = index.type === "unique";
        const name = index.dbName ?? constraintName(tableName, columns, unique ? "_key" : "_idx");
        table.indexes[name] = {
          unique,
          method: (index.algorithm ?? "BTree").toLowerCase(),
          columns: keyColumns,
          where: null,
        };
        break;
      }
      default:
        throw new Error(`${model.name}: ${index.type} indexes do not exist on PostgreSQL`);
    }
  }

  return sortShape({ enums, tables });
}

/** Parses schema.prisma (or the given text) and derives its shape. */
export async function shapeFromSchema(schemaText?: string): Promise<DbShape> {
  const text = schemaText ?? (await readSchemaText());
  return shapeFromDatamodel(getDatamodel(text), text);
}

// ---------------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------------

/**
 * Every difference between two shapes, one readable line each; empty when they agree. `labels`
 * name the two sides in the messages.
 */
export function diffShapes(left: DbShape, right: DbShape, labels: [string, string] = ["left", "right"]): string[] {
  const [l, r] = labels;
  const out: string[] = [];
  const show = (value: unknown): string => JSON.stringify(value);

  const keyed = <T>(what: string, a: Record<string, T>, b: Record<string, T>, compare: (prefix: string, x: T, y: T) => void): void => {
    for (const key of sortedUnion(a, b)) {
      const x = a[key];
      const y = b[key];
      if (x === undefined) out.push(`${what} ${show(key)} is only in ${r}: ${show(y)}`);
      else if (y === undefined) out.push(`${what} ${show(key)} is only in ${l}: ${show(x)}`);
      else compare(`${what} ${show(key)}`, x, y);
    }
  };
  const leaf = (prefix: string, x: unknown, y: unknown): void => {
    if (show(x) !== show(y)) out.push(`${prefix}: ${show(x)} in ${l}, ${show(y)} in ${r}`);
  };
  const props = <T extends object>(prefix: string, x: T, y: T): void => {
    for (const key of sortedUnion(x, y)) {
      leaf(`${prefix} ${key}`, (x as Record<string, unknown>)[key], (y as Record<string, unknown>)[key]);
    }
  };

  keyed("enum", left.enums, right.enums, (prefix, x, y) => leaf(`${prefix} values`, x, y));
  keyed("table", left.tables, right.tables, (tablePrefix, x, y) => {
    keyed(`${tablePrefix} column`, x.columns, y.columns, props);
    leaf(`${tablePrefix} primary key`, x.primaryKey, y.primaryKey);
    keyed(`${tablePrefix} index`, x.indexes, y.indexes, props);
    keyed(`${tablePrefix} foreign key`, x.foreignKeys, y.foreignKeys, props);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/**
 * Quotes an identifier the way PostgreSQL's quote_ident does for ordinary names: not when it is
 * all lower-case letters, digits, `_` and `$`, not starting with a digit. (Keywords, which
 * PostgreSQL also quotes, are not detected; a table or enum named after one would show as a diff.)
 */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** jsonb literals are compared by value, since PostgreSQL re-prints them in its own layout. */
function normalizeDefault(expression: string): string {
  const match = /^'((?:[^']|'')*)'::jsonb$/s.exec(expression);
  if (!match) return expression;
  try {
    const value: unknown = JSON.parse((match[1] ?? "").replaceAll("''", "'"));
    return `${sqlString(JSON.stringify(sortJson(value)))}::jsonb`;
  } catch {
    return expression;
  }
}

function sortJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortJson);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortJson((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

function sortedUnion(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

function sortRecord<T>(record: Record<string, T>, map: (value: T) => T = (value) => value): Record<string, T> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, map(record[key] as T)]),
  );
}

/** Orders every keyed collection by name, so two equal shapes also print the same. */
function sortShape(shape: DbShape): DbShape {
  return {
    enums: sortRecord(shape.enums),
    tables: sortRecord(shape.tables, (table) => ({
      columns: sortRecord(table.columns),
      primaryKey: table.primaryKey,
      indexes: sortRecord(table.indexes),
      foreignKeys: sortRecord(table.foreignKeys),
    })),
  };
}

function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}
