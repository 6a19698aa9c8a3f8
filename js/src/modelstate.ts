/**
 * What lives as long as the model (anywidget's `initialize`), shared by all its views: the
 * config (config.ts), the request client and the row texts (paging.ts).
 */
import { setConfig } from "./config";
import { RowTexts } from "./paging";
import { Sync, decodePoints, type Model } from "./sync";

export interface ModelState {
  /** Requests only: answers come by msg:custom to whichever view asked. */
  client: Sync;
  texts: RowTexts;
}

const shared = new WeakMap<object, ModelState>();
/** anywidget hands `initialize` and each `render` a different proxy of one model, so the shared state
 * is found by a value of the model itself: the config trait's object, set once by Python. */
const modelKey = (model: Model): object => model.get("config");

/** The shared state of `model`, or undefined when nobody initialized it. */
export function modelState(model: Model): ModelState | undefined {
  return shared.get(modelKey(model));
}

/** anywidget's `initialize`: the config, the request client and the row texts of `model`; returns their cleanup. */
export function initModel(model: Model, opts: { pageDelayMs?: number } = {}): () => void {
  setConfig(model.get("config"));
  const client = new Sync(model);
  const texts = new RowTexts(client, decodePoints(model).n, opts.pageDelayMs);
  const onConfig = () => setConfig(model.get("config"));
  const onRowText = () => texts.reloadRowText();
  model.on("change:config", onConfig);
  model.on("change:row_text", onRowText);
  const key = modelKey(model);
  shared.set(key, { client, texts });
  return () => {
    model.off("change:config", onConfig);
    model.off("change:row_text", onRowText);
    texts.dispose();
    client.dispose();
    shared.delete(key);
  };
}
