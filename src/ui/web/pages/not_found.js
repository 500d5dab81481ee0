// Any URL the UI has no page for.

import { h, link, replace } from "../dom.js";

export function render(main) {
  replace(main,
    h("h1", null, "No such page"),
    h("p", null, "There is nothing at ", h("code", null, location.pathname), ". ", link("/calls", "Go to the calls"), "."));
}
