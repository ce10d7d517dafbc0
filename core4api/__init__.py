"""core4's HTTP conventions plugged into DRF's seams, once, for every API of the project.

* ``arguments`` — query string and JSON body merged, typed access (`as_type`);
* ``renderers`` — the success envelope; ``exceptions`` — the error envelope;
* ``pagination`` — core4's pager; ``filters`` — core4 clients' MongoDB-style filters;
* ``views`` — the base view that ties them together.
"""
