/**
 * Not a FHIR server at the given URL: the HTML a single sign-on portal answers for
 * `[base]/metadata` (`metadataHtml`), and the 404 page of a web server in front of a wrong base
 * path (`htmlNotFound`). A client must notice it did not get FHIR JSON and say so.
 *
 * @module
 */

import { html } from "./reply.ts";
import type { Reply } from "./http1.ts";

const LOGIN_PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - Patient Portal</title></head>
<body>
<h1>Sign in</h1>
<form method="post" action="/login">
<label>User name <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>
</body>
</html>
`;

const NOT_FOUND_PAGE = `<html>
<head><title>404 Not Found</title></head>
<body>
<center><h1>404 Not Found</h1></center>
<hr><center>nginx</center>
</body>
</html>
`;

/** 200 with an HTML login page, `text/html; charset=utf-8`. */
export function loginPage(): Reply {
  return html(200, LOGIN_PAGE);
}

/** 404 with nginx's HTML page, plain `text/html` (nginx adds no charset by default). */
export function htmlNotFound(): Reply {
  return html(404, NOT_FOUND_PAGE, "text/html");
}
