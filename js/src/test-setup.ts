// Every vitest file sees the config Python sends (js/src/browser-config.json, kept equal to browser_config()).
import { setConfig } from "./config";
import browserConfig from "./browser-config.json";
import type { Config } from "./sync";

setConfig(structuredClone(browserConfig) as Config);
