/**
 * The constants shared with Python (datamap_widget.widget.browser_config), as the `config` trait
 * brought them: label codes, review marks, filters, views, page sizes. No copy lives in js/src;
 * `initialize` (widget.ts, modelstate.ts) installs the model's config before any view renders,
 * and every reader asks `config()` when it runs.
 */
import type { Config } from "./sync";

let current: Config | null = null;

/** Use `value` (the model's `config` trait) from now on. */
export function setConfig(value: Config): void {
  current = value;
}

/** The config the model sent; an Error when none arrived (the Python side is older than this bundle). */
export function config(): Config {
  if (!current) throw new Error("datamap_widget: the config trait has not arrived; restart the kernel after upgrading");
  return current;
}
