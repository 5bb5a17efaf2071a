/** Splits a POSIX command line the way a shell would, for bare words and single-quoted parts. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed quote in ${line}`);
      current = (current ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (ch === '\\' && i + 1 < line.length) {
      current = (current ?? '') + line[++i];
    } else if (/\s/.test(ch)) {
      if (current !== null) words.push(current);
      current = null;
    } else {
      current = (current ?? '') + ch;
    }
  }
  if (current !== null) words.push(current);
  return words;
}
