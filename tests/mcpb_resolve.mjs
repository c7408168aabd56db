// Resolve a bundle's server command the way the host app does, with the mcpb package's own
// getMcpConfigForManifest (the code Claude Desktop uses to turn manifest + user settings into a command).
// Run as: npx -y -p @anthropic-ai/mcpb@<version> -c "node mcpb_resolve.mjs", with the inputs in the environment
// (MCPB_MANIFEST, MCPB_EXTENSION_DIR, MCPB_USER_CONFIG as JSON), so no path or JSON goes through a shell.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const manifestPath = process.env.MCPB_MANIFEST;
const extensionPath = process.env.MCPB_EXTENSION_DIR;
const userConfigJson = process.env.MCPB_USER_CONFIG || "{}";
const binDirs = (process.env.PATH || "")
  .split(path.delimiter)
  .filter((dir) => dir.endsWith(path.join("node_modules", ".bin")));
const pkg = binDirs.map((dir) => path.join(dir, "..", "@anthropic-ai", "mcpb")).find((dir) => fs.existsSync(dir));
if (!pkg) {
  console.error("@anthropic-ai/mcpb is not on PATH: run this script through npx -p @anthropic-ai/mcpb@<version>");
  process.exit(2);
}
const { getMcpConfigForManifest } = await import(pathToFileURL(path.join(pkg, "dist", "shared", "config.js")).href);
const config = await getMcpConfigForManifest({
  manifest: JSON.parse(fs.readFileSync(manifestPath, "utf8")),
  extensionPath,
  systemDirs: {},
  userConfig: JSON.parse(userConfigJson),
  pathSeparator: path.sep,
});
process.stdout.write(JSON.stringify(config ?? null));
