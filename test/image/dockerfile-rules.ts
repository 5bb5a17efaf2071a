// hadolint-style rules for a Dockerfile, checked in a test (hadolint itself is a Haskell binary that no
// package registry reachable here ships). Each finding carries hadolint's rule id, so a reader can look
// the rule up, and the line it was found on.

export interface Instruction {
  /** Upper-cased: FROM, RUN, COPY, ... */
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Finding {
  rule: string;
  line: number;
  message: string;
}

/** The instructions of a Dockerfile: comments and blank lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim();
    if (first === '' || first.startsWith('#')) continue;
    const start = i + 1;
    let joined = first;
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      const next = lines[++i]!.trim();
      // A comment inside a continued instruction is dropped by Docker too.
      joined = joined.slice(0, -1).trimEnd() + (next.startsWith('#') ? ' \\' : ` ${next}`);
    }
    const match = /^(\S+)\s*(.*)$/.exec(joined)!;
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start });
  }
  return instructions;
}

/** The image reference of a FROM (flags such as --platform and `AS name` left out). */
function fromImage(args: string): string {
  return args.split(/\s+/).filter((a) => !a.startsWith('--'))[0] ?? '';
}

/** The shell commands of a RUN (split on && ; || |), each trimmed. */
function commands(args: string): string[] {
  return args
    .split(/&&|\|\||;|\|/)
    .map((c) => c.trim())
    .filter(Boolean);
}

/** Runs the rules over a Dockerfile's text; an empty list means it passes. */
export function lintDockerfile(text: string): Finding[] {
  const instructions = parseDockerfile(text);
  const findings: Finding[] = [];
  const find = (rule: string, at: Instruction | undefined, message: string) =>
    findings.push({ rule, line: at?.line ?? 0, message });
  const stages = new Set<string>();

  for (const ins of instructions) {
    const { keyword, args } = ins;
    if (keyword === 'FROM') {
      const image = fromImage(args);
      const stage = /\sAS\s+(\S+)\s*$/i.exec(args)?.[1];
      if (!stages.has(image) && image !== 'scratch') {
        const [name, digest] = image.split('@');
        const tag = /:([^/:]+)$/.exec(name!)?.[1];
        if (!tag && !digest) find('DL3006', ins, `FROM ${image} has no tag: pin the image by tag (and digest).`);
        if (tag === 'latest') find('DL3007', ins, `FROM ${image} uses the latest tag: pin a release.`);
        if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))
          find('DL3006', ins, `FROM ${image} has a digest that is not sha256:<64 hex digits> (a placeholder?).`);
      }
      if (stage) stages.add(stage);
    }
    if (keyword === 'RUN') {
      const run = commands(args);
      const installs = run.filter((c) => /^(apt-get|apt)\s+(\S+\s+)*install\b/.test(c));
      if (run.some((c) => /^apt\s/.test(c)))
        find('DL3027', ins, 'RUN uses apt: use apt-get in scripts (apt has no stable command line).');
      for (const install of installs) {
        if (!/\s-(y|-yes|qq?y|yq)\b|--assume-yes/.test(install))
          find('DL3014', ins, `"${install}" does not answer yes (-y): the build would stop at the prompt.`);
        if (!install.includes('--no-install-recommends'))
          find('DL3015', ins, `"${install}" installs recommended packages too: add --no-install-recommends.`);
      }
      if (installs.length && !/rm -rf \/var\/lib\/apt\/lists\/\*/.test(args))
        find('DL3009', ins, 'RUN installs with apt-get but keeps /var/lib/apt/lists: remove them in the same RUN.');
      if (run.some((c) => /^sudo\b/.test(c))) find('DL3004', ins, 'RUN uses sudo: the build runs as root until USER.');
      if (run.some((c) => /^cd\s/.test(c))) find('DL3003', ins, 'RUN changes folder with cd: use WORKDIR.');
      if (/\s\|\s/.test(args) && !/set -[a-z]*o pipefail|set -o pipefail/.test(args))
        find('DL4006', ins, 'RUN pipes without set -o pipefail: a failing first command would go unnoticed.');
      if (run.some((c) => /^npm (install|ci)\b/.test(c)) && !/npm cache clean --force/.test(args))
        find('DL3016', ins, 'RUN installs with npm but keeps its cache: add npm cache clean --force.');
    }
    if (keyword === 'ADD' && !/https?:\/\//.test(args) && !/\.(tar|tgz|gz|bz2|xz)\b/.test(args))
      find('DL3020', ins, 'ADD copies local files: use COPY.');
    if (keyword === 'WORKDIR' && !args.startsWith('/') && !args.startsWith('$'))
      find('DL3000', ins, `WORKDIR ${args} is relative: use an absolute path.`);
    if ((keyword === 'ENTRYPOINT' || keyword === 'CMD') && !args.startsWith('['))
      find('DL3025', ins, `${keyword} in shell form: use the JSON form, so signals reach the program.`);
  }

  const users = instructions.filter((i) => i.keyword === 'USER');
  const lastUser = users.at(-1);
  if (!lastUser) find('DL3002', undefined, 'No USER: the container would run as root; switch to an unprivileged user.');
  else if (/^(root|0)(:|$)/.test(lastUser.args))
    find('DL3002', lastUser, `The last USER is ${lastUser.args}: the container would run as root.`);
  if (!instructions.some((i) => i.keyword === 'HEALTHCHECK'))
    find('HEALTHCHECK', undefined, 'No HEALTHCHECK: the image does not say how to tell that it works.');
  return findings;
}
