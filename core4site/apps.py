from django.apps import AppConfig


class Core4SiteConfig(AppConfig):
    name = "core4site"
    verbose_name = "core4site"
