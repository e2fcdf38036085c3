'use strict';
/**
 * The Node version check of every entry point. Plain CommonJS on purpose: an older Node cannot load a .ts file at all
 * (ERR_UNKNOWN_FILE_EXTENSION, a stack trace), so the npm scripts preload this file (`node -r ./src/node-check.cjs
 * src/main.ts`) and it speaks first. src/main.ts and src/cli.ts import it too, for a Node that loads .ts files
 * but is still too old.
 *
 * MikroORM 7, vitest 5 and the Azure/GCP SDKs need Node >= 22.18 (TypeScript type stripping without a flag). The
 * `node` devDependency puts Node 24 in node_modules/.bin, where npm scripts find it first; a plain `node` from the
 * shell may be older.
 */
const MIN_NODE = [22, 18];

function nodeVersionProblem(version = process.versions.node) {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])) return undefined;
  return (
    `Skyloft needs Node ${MIN_NODE.join('.')} or newer; this is Node ${version} (${process.execPath}).\n` +
    'Use npm start (Node 24 comes with the project): npm runs its scripts (npm start, npm run cli, npm test) on ' +
    'node_modules/.bin/node, which `npm ci` installs.\n' +
    'If npm start itself says this, that Node is missing: run `npm ci` again with install scripts allowed.'
  );
}

module.exports = { MIN_NODE, nodeVersionProblem };

const problem = nodeVersionProblem();
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
