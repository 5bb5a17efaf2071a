// Whether a column of type `from` can become `to` on the target without losing or rejecting a value it
// holds: the type changes sync --apply-ddl makes by itself. Everything else is listed, never applied.

const INTEGER_RANK: Record<string, number> = { smallint: 1, integer: 2, bigint: 3, numeric: 4 };

function varchar(type: string): { limit: number | null } | null {
  if (type === 'text' || type === 'character varying') return { limit: null };
  const m = /^character varying\((\d+)\)$/.exec(type);
  return m ? { limit: Number(m[1]) } : null;
}

function numeric(type: string): { precision: number; scale: number } | null | 'any' {
  if (type === 'numeric') return 'any';
  const m = /^numeric\((\d+),(\d+)\)$/.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : null;
}

export function isWidening(from: string, to: string): boolean {
  if (from === to) return false;
  const a = INTEGER_RANK[from];
  const b = INTEGER_RANK[to];
  if (a !== undefined && b !== undefined) return a < b;
  if (from === 'real' && to === 'double precision') return true;
  const va = varchar(from);
  const vb = varchar(to);
  if (va && vb) return vb.limit === null || (va.limit !== null && va.limit < vb.limit);
  const na = numeric(from);
  const nb = numeric(to);
  if (na && nb) {
    if (nb === 'any') return true;
    if (na === 'any') return false;
    return nb.scale >= na.scale && nb.precision - nb.scale >= na.precision - na.scale;
  }
  // An integer fits any numeric with at least as many digits before the point.
  if (a !== undefined && a < 4 && nb && nb !== 'any') return nb.scale === 0 && nb.precision >= [0, 5, 10, 19][a]!;
  return false;
}
