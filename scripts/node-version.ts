// Imported first by the entry scripts, so that a Node.js too old for this project says so in one line
// instead of failing somewhere later with a stack trace.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `wa-gateway needs Node.js 22.12 or newer, not ${process.version} (${process.execPath}): start it with ` +
      'npm start or npm run sandbox, which run on the Node 24 that npm install put in node_modules/.bin, ' +
      'or put Node.js 22.12+ first on PATH.\n',
  );
  process.exit(1);
}

export {};
