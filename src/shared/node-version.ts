/**
 * MikroORM 7, vitest 5 and the Azure/GCP SDKs need Node >= 22.18 (TypeScript type stripping without a flag). The `node` devDependency puts Node 24 in
 * node_modules/.bin, so `npm start` / `npm test` get it; a plain `node` from the shell may be older.
 */
export const MIN_NODE = [22, 18] as const;

export function nodeVersionProblem(version = process.versions.node): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])) return undefined;
  return (
    `Skyloft needs Node >= ${MIN_NODE.join('.')} but is running on ${version}. ` +
    'Run it through npm (npm start, npm run cli, npm test), which uses the Node 24 installed by `npm ci`; ' +
    'if node_modules/.bin/node is missing, run `npm ci` again with install scripts allowed.'
  );
}

export function assertNodeVersion(): void {
  const problem = nodeVersionProblem();
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
}
