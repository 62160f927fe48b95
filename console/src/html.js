// @ts-check
// The view layer: Preact with htm's tagged templates (no build step). Text and attribute values
// given through `${...}` are set as DOM text and properties, never parsed as HTML, which is what
// keeps a user named `<img src=x onerror=...>` a name. Nothing in the console uses
// dangerouslySetInnerHTML.
import { h, render } from '../vendor/preact/preact.module.js';
import { useState, useEffect, useRef, useMemo, useCallback, useLayoutEffect } from '../vendor/preact/hooks.module.js';
import htm from '../vendor/htm/htm.module.js';

/** @type {(strings: TemplateStringsArray, ...values: any[]) => any} */
export const html = htm.bind(h);
export { h, render, useState, useEffect, useRef, useMemo, useCallback, useLayoutEffect };
