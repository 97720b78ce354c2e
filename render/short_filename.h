/* Short, module-relative file names for flame graph labels (py-spy's
 * habit; --full-filenames turns it off): what an import would name,
 * rather than where the interpreter happens to live. Private to render/. */
#ifndef PYPROBE_RENDER_SHORT_FILENAME_H
#define PYPROBE_RENDER_SHORT_FILENAME_H

/* The tail of file to show, a pointer into file:
 *   after the last `/site-packages/` or `/dist-packages/` (third-party
 *   packages: `requests/sessions.py`);
 *   else after the last `/lib/pythonX.Y/` or `/lib64/pythonX.Y/` (the
 *   standard library: `threading.py`, `asyncio/events.py`);
 *   else after `cwd/` when file lies under cwd (cwd NULL or "": never);
 *   else file itself (`<frozen runpy>`, `app.py`, other absolute paths).
 * Never empty when file is not: a prefix with nothing after it is kept. */
const char *pp_short_filename(const char *file, const char *cwd);

#endif
