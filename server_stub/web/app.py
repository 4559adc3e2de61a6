"""The results website and its JSON API, as one Starlette app over a ResultsService.

Every page has an API twin that returns the very dict the page renders
(``/dec/2001`` and ``/api/v1/dec/2001``).  Public routes accept GET and HEAD only;
every write names a token (uploads, administration) or is a signed packet.  User errors
become ``{"error": {"code", "message"}}`` with a 4xx status and nothing stored; an
unexpected exception becomes a 500 with no details.  Pages use only this server's own
CSS and script, under a Content-Security-Policy that forbids anything else.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from election.errors import PcosLabError
from server_stub import charts, i18n
from server_stub.errors import BadRequest, NotFound, ServerError
from server_stub.service import ResultsService
from server_stub.web import writes

HERE = Path(__file__).parent
log = logging.getLogger("server_stub.web")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["n"] = lambda v: "—" if v is None else f"{v:,}".replace(",", "\u202f")
    env.filters["p"] = lambda v: "—" if v is None else f"{v:.2f}%"
    return env


def create_app(service: ResultsService) -> Starlette:
    env = _templates()

    def lang_of(request: Request) -> str:
        return i18n.pick(request.query_params.get("lang"))

    def page(request: Request, template: str, data: dict[str, Any], **extra: Any) -> Response:
        lang = lang_of(request)
        labels = i18n.labels(lang)
        body = env.get_template(template).render(
            d=data,
            t=labels,
            lang=lang,
            langs=i18n.LANGS,
            path=request.url.path,
            q=f"?lang={lang}",
            election=service.election,
            charts=charts,
            Markup=Markup,
            api=f"/api/v1{request.url.path if request.url.path != '/' else '/national'}",
            **extra,
        )
        return HTMLResponse(body, headers=SECURITY_HEADERS)

    def api(data: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(data, status_code=status, headers=SECURITY_HEADERS)

    def number(request: Request, name: str) -> int:
        text = request.path_params[name]
        if not text.isdigit() or len(text) > 10:
            raise NotFound(f"{name} must be a number, got {text[:20]!r}")
        return int(text)

    # Pages ------------------------------------------------------------------------------

    async def national(request: Request) -> Response:
        return page(request, "national.html", service.national())

    async def region(request: Request) -> Response:
        return page(request, "region.html", service.region(request.path_params["code"]))

    async def district(request: Request) -> Response:
        return page(request, "district.html", service.district(number(request, "number")))

    async def dec(request: Request) -> Response:
        return page(request, "dec.html", service.dec(number(request, "number")))

    async def discrepancies(request: Request) -> Response:
        return page(request, "discrepancies.html", service.discrepancies())

    async def quarantine(request: Request) -> Response:
        return page(request, "quarantine.html", service.quarantine())

    async def search(request: Request) -> Response:
        target = _search(service, request.query_params.get("dec", ""))
        return RedirectResponse(f"{target}?lang={lang_of(request)}", status_code=303)

    async def image(request: Request) -> Response:
        path, kind = service.protocol_image(number(request, "number"))
        return FileResponse(path, media_type=kind, headers=SECURITY_HEADERS)

    # API --------------------------------------------------------------------------------

    async def api_national(request: Request) -> Response:
        return api(service.national())

    async def api_region(request: Request) -> Response:
        return api(service.region(request.path_params["code"]))

    async def api_district(request: Request) -> Response:
        return api(service.district(number(request, "number")))

    async def api_dec(request: Request) -> Response:
        return api(service.dec(number(request, "number")))

    async def api_discrepancies(request: Request) -> Response:
        return api(service.discrepancies())

    async def api_quarantine(request: Request) -> Response:
        return api(service.quarantine())

    async def api_status(request: Request) -> Response:
        return api(service.status())

    async def api_search(request: Request) -> Response:
        target = _search(service, request.query_params.get("dec", ""))
        return api({"dec": int(target.rsplit("/", 1)[1]), "url": target})

    async def api_export(request: Request) -> Response:
        from server_stub import exports_nist

        kind = request.path_params["kind"]
        snap = service.snapshot
        if kind == "nist-results":
            return api(exports_nist.results_report(service.election, snap, service.fingerprint))
        if kind == "nist-cvr":
            report = exports_nist.cvr_report(
                service.election, snap, service.ledger, service.fingerprint
            )
            return api(report)
        raise NotFound(f"no export {kind!r}; try nist-results or nist-cvr")

    # Errors -----------------------------------------------------------------------------

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.method not in ("GET", "HEAD")

    async def on_user_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PcosLabError)
        status = getattr(exc, "status", 400)
        if wants_json(request):
            return api(error_body(exc.code, str(exc)), status)
        lang = lang_of(request)
        body = env.get_template("error.html").render(
            t=i18n.labels(lang),
            lang=lang,
            langs=i18n.LANGS,
            path=request.url.path,
            q=f"?lang={lang}",
            status=status,
            message=str(exc),
            api=None,
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http")
        error = ServerError(str(exc.detail))
        error.code, error.status = code, exc.status_code  # type: ignore[misc]
        return await on_user_error(request, error)

    async def on_bug(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return api(error_body("internal", "internal server error"), 500)

    routes = [
        Route("/", national),
        Route("/region/{code}", region),
        Route("/district/{number}", district),
        Route("/dec/{number}", dec),
        Route("/discrepancies", discrepancies),
        Route("/quarantine", quarantine),
        Route("/search", search),
        Route("/protocols/{number}/image", image),
        Route("/api/v1/national", api_national),
        Route("/api/v1/region/{code}", api_region),
        Route("/api/v1/district/{number}", api_district),
        Route("/api/v1/dec/{number}", api_dec),
        Route("/api/v1/discrepancies", api_discrepancies),
        Route("/api/v1/quarantine", api_quarantine),
        Route("/api/v1/status", api_status),
        Route("/api/v1/search", api_search),
        Route("/api/v1/export/{kind}", api_export),
        *writes.routes(service),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            PcosLabError: on_user_error,
            HTTPException: on_http,
            Exception: on_bug,
        },
    )


def _search(service: ResultsService, text: str) -> str:
    text = text.strip()
    if not text.isdigit() or len(text) > 10:
        raise BadRequest(f"a DEC number is digits only, got {text[:20]!r}")
    if not service.election.has_dec(int(text)):
        raise NotFound(f"no DEC {int(text)}")
    return f"/dec/{int(text)}"
